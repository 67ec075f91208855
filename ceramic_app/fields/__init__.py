"""Admin-managed custom fields: keys, value types, rules and calculated expressions.

Modules, from the bottom up:

- keys: key format, built-in and reserved names
- typed: stored value shapes, parsing form text, converting between types
- rules: the rules dict of one field and the check of one value
- expressions: the calculated-field language (parser, Python and SQL forms)
- validation: the workspace Schema and validate_values() for every write path
- stats: how many profiles have a value for a key
- service: field management for admins, with two-step type change and deletion
- jobs: batched convert, delete and recompute functions for the job runner

docs/FIELDS.md describes the public API for the pages.
"""
