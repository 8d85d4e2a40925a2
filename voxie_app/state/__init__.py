"""Reflex states: thin, one per feature; they call services."""
