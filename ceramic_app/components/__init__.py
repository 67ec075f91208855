"""Stateless UI builders shared by the pages."""
