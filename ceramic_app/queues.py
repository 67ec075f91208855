"""RQ queues and the Redis connection they share, namespaced by settings."""

from __future__ import annotations

import functools

from redis import Redis
from rq import Queue

from ceramic_app.settings import get_settings

IMPORTS = "imports"
DEFAULT = "default"
QUEUE_KINDS = (IMPORTS, DEFAULT)


@functools.cache
def get_redis() -> Redis:
    """Return the process-wide Redis client (bytes responses, as RQ needs)."""
    return Redis.from_url(get_settings().redis_url)


def queue_name(kind: str) -> str:
    """Return the namespaced Redis name of a queue kind."""
    return f"{get_settings().redis_namespace}-{kind}"


def get_queue(kind: str = DEFAULT) -> Queue:
    """Return the RQ queue for kind."""
    return Queue(queue_name(kind), connection=get_redis())
