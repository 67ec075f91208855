"""Profiles: the unified customer records, their queries and writes."""
