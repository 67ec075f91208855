"""Live signals over Redis pub/sub: job progress and profile changes.

Postgres stays the source of truth; a lost message only delays what the
browser shows until the next message or reload.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis import asyncio as aioredis

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


async def subscribe(
    workspace_id: int, poll_seconds: float = 5.0
) -> AsyncIterator[dict[str, Any] | None]:
    """Yield a workspace's events as dicts, and None every poll_seconds of silence.

    The None ticks let a long-lived listener re-check its session and whether
    it has been superseded. The Redis connection closes when the caller stops
    iterating (or is cancelled).
    """
    client = aioredis.from_url(get_settings().redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(workspace_channel(workspace_id))
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=poll_seconds
            )
            if message is None:
                yield None
                continue
            try:
                yield json.loads(message["data"])
            except (ValueError, TypeError):
                logger.warning(
                    "ignored a malformed live message on workspace %s", workspace_id
                )
    finally:
        await pubsub.aclose()
        await client.aclose()
