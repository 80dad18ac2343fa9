"""Rendering templates (Jinja2) for the generators; data only."""
