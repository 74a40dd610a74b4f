"""Pages of this feature (being built)."""
