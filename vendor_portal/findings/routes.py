"""Findings register pages (built by the findings and exercises work)."""
