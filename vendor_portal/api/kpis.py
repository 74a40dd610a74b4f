"""API resources of this feature (being built)."""
