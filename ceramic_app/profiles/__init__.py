"""Profiles: the single-profile service (create, update, read, history)."""
