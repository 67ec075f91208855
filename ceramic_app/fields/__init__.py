"""Admin-managed custom fields: keys, value types, rules and calculated expressions."""
