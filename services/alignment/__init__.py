"""The alignment service."""
