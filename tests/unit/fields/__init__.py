"""Unit tests of the custom field domain (no database)."""
