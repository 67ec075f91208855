"""Bulk import of customer files into profiles; the API is in imports.service."""
