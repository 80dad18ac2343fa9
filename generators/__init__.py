"""Config generators: one module per target, all built on :mod:`osscname.generators.base`."""
