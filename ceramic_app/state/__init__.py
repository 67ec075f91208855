"""Reflex state classes: thin layers that authorize, validate and call domain code."""
