"""Logging setup for the web and worker entry points."""

from __future__ import annotations

import logging

from ceramic_app.settings import get_settings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """Configure the root logger once, at the level from settings."""
    root = logging.getLogger()
    if getattr(root, "_ceramic_configured", False):
        return
    logging.basicConfig(level=get_settings().log_level.upper(), format=_FORMAT)
    root._ceramic_configured = True  # type: ignore[attr-defined]
