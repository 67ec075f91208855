"""Full-text search documents of profiles, kept in the profile_search table."""
