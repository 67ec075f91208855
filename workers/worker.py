"""Worker entry point: `python -m workers.worker` (or `ceramic worker`).

Listens on every queue of ceramic_app.queues.QUEUE_KINDS under the
configured namespace and, in a thread, runs the reconciler every
RECONCILE_SECONDS. A Redis lock lets only one of several workers reconcile
in each period.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading

from rq import Worker

from ceramic_app.queues import QUEUE_KINDS, get_queue, get_redis
from ceramic_app.settings import get_settings

# Imported here, in the main thread before any fork: a work horse forked
# while another thread held the import lock would hang on its first import.
from workers import tasks  # noqa: F401
from workers.reconciler import reconcile

logger = logging.getLogger(__name__)

RECONCILE_SECONDS = 30.0
# Modules that register background job kinds (workers.background.job_kind);
# CERAMIC_JOB_MODULES adds more, comma-separated.
JOB_MODULES: tuple[str, ...] = ()
_configured = False


def configure_logging() -> None:
    """Configure root logging once per process, at settings.log_level."""
    global _configured
    if _configured:
        return
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
    )
    _configured = True


def _reconcile_loop(stop: threading.Event, interval: float) -> None:
    redis = get_redis()
    lock_key = f"{get_settings().redis_namespace}:reconciler-lock"
    me = f"{socket.gethostname()}:{os.getpid()}"
    while not stop.wait(interval):
        try:
            # The lock expires before the next period, so a worker that
            # died while holding it blocks reconciling for one period at most.
            if redis.set(lock_key, me, nx=True, ex=max(1, int(interval * 0.9))):
                reconcile()
        except Exception:
            logger.exception("reconciler pass failed; retrying in %.0f s", interval)


def import_job_modules() -> list[str]:
    """Import every module that registers job kinds; return their names."""
    extra = os.environ.get("CERAMIC_JOB_MODULES", "")
    names = [*JOB_MODULES, *(n.strip() for n in extra.split(",") if n.strip())]
    for name in names:
        importlib.import_module(name)
    return names


def main(burst: bool = False, reconcile_seconds: float | None = None) -> None:
    """Run an RQ worker on every queue plus the periodic reconciler."""
    configure_logging()
    import_job_modules()
    interval = float(
        reconcile_seconds
        if reconcile_seconds is not None
        else os.environ.get("CERAMIC_RECONCILE_SECONDS", RECONCILE_SECONDS)
    )
    queues = [get_queue(kind) for kind in QUEUE_KINDS]
    worker = Worker(queues, connection=get_redis())
    stop = threading.Event()
    reconciler = threading.Thread(
        target=_reconcile_loop, args=(stop, interval), name="reconciler", daemon=True
    )
    reconciler.start()
    logger.info(
        "worker %s listening on %s (reconciling every %.0f s)",
        worker.name,
        ", ".join(q.name for q in queues),
        interval,
    )
    try:
        worker.work(burst=burst, logging_level=get_settings().log_level.upper())
    finally:
        stop.set()
        logger.info("worker %s stopped", worker.name)


if __name__ == "__main__":
    main()
