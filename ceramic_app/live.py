"""Live signals over Redis pub/sub: job progress and profile changes.

Postgres stays the source of truth; a lost message only delays what the
browser shows until the next message or reload.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ceramic_app.queues import get_redis
from ceramic_app.settings import get_settings

logger = logging.getLogger(__name__)


def workspace_channel(workspace_id: int) -> str:
    """Return the channel that carries one workspace's events."""
    return f"{get_settings().redis_namespace}:ws:{int(workspace_id)}"


def publish(workspace_id: int, event: str, **payload: Any) -> None:
    """Publish an event to a workspace's channel; failures are logged, not raised."""
    message = json.dumps({"event": event, **payload}, default=str)
    try:
        get_redis().publish(workspace_channel(workspace_id), message)
    except Exception:
        logger.warning(
            "publish of %s to workspace %s failed", event, workspace_id, exc_info=True
        )
