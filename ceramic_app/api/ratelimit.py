"""Fixed-window attempt limits kept in Redis (sign-in and sign-up)."""

from __future__ import annotations

import hashlib
import logging

from ceramic_app.queues import get_redis
from ceramic_app.settings import get_settings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60


def allow_attempt(action: str, client_key: str) -> bool:
    """Count one attempt; tell whether it is within the window's limit.

    The key is hashed so that e-mail addresses never sit in Redis. When Redis
    is down the attempt is allowed and a warning logged: sign-in must not
    depend on the rate limiter.
    """
    digest = hashlib.sha256(client_key.encode()).hexdigest()[:32]
    key = f"{get_settings().redis_namespace}:rl:{action}:{digest}"
    try:
        redis = get_redis()
        count = redis.incr(key)
        if count == 1:
            redis.expire(key, WINDOW_SECONDS)
    except Exception:
        logger.warning("rate limiter unavailable for %s", action, exc_info=True)
        return True
    settings = get_settings()
    limit = (
        settings.sign_up_attempts if action == "signup" else settings.sign_in_attempts
    )
    return int(count) <= limit
