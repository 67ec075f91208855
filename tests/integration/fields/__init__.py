"""Integration tests of fields, profiles, tags, templates and audit on the real Postgres."""
