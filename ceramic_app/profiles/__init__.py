"""Profiles: table queries (keyset pages) and single-profile writes with history."""
