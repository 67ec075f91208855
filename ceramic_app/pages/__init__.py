"""One module per route; each exposes a function returning the page component."""
