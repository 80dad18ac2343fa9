"""osscname: one bindings file for custom domains on object-storage buckets."""
