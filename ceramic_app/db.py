"""Database engine, tenant-scoped connections and the async bridge for handlers.

Every tenant table has row-level security keyed on the `app.workspace_id`
setting, so a query that forgets its workspace filter returns nothing rather
than another workspace's rows. tenant_connection() sets it per transaction.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, create_engine, text
from sqlmodel import Session

from ceramic_app.settings import get_settings, to_libpq_url

P = ParamSpec("P")
T = TypeVar("T")

# A generic plan for a prepared statement ignores how selective a GIN filter
# is; custom plans keep keyset pages on jsonb filters in milliseconds.
_CONNECT_OPTIONS = "-c plan_cache_mode=force_custom_plan"


@functools.cache
def get_engine() -> Engine:
    """Return the pooled engine for the app role."""
    return create_engine(
        get_settings().sqlalchemy_url(),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"options": _CONNECT_OPTIONS},
    )


def set_workspace(conn: Connection, workspace_id: int) -> None:
    """Scope the rest of conn's transaction to one workspace (row-level security)."""
    conn.execute(
        text("SELECT set_config('app.workspace_id', :ws, true)"),
        {"ws": str(int(workspace_id))},
    )


@contextmanager
def tenant_connection(workspace_id: int) -> Iterator[Connection]:
    """Open a transaction that can only see and write one workspace's rows."""
    with get_engine().begin() as conn:
        set_workspace(conn, workspace_id)
        yield conn


@contextmanager
def tenant_session(workspace_id: int) -> Iterator[Session]:
    """Open an ORM session whose transaction is scoped to one workspace."""
    with Session(get_engine()) as session:
        with session.begin():
            set_workspace(session.connection(), workspace_id)
            yield session


@contextmanager
def global_connection() -> Iterator[Connection]:
    """Open a transaction for tables that are not tenant-scoped (users, sessions)."""
    with get_engine().begin() as conn:
        yield conn


def connect_raw(workspace_id: int | None = None) -> psycopg.Connection:
    """Open a plain psycopg connection (for COPY), optionally tenant-scoped.

    The workspace setting is session-wide here, because bulk work commits many
    transactions on one connection.
    """
    conn = psycopg.connect(
        to_libpq_url(get_settings().database_url), options=_CONNECT_OPTIONS
    )
    if workspace_id is not None:
        conn.execute(
            "SELECT set_config('app.workspace_id', %s, false)",
            (str(int(workspace_id)),),
        )
        conn.commit()
    return conn


def connect_bulk_writer(workspace_id: int) -> psycopg.Connection:
    """Open a tenant-scoped connection that may also COPY straight into profiles.

    PostgreSQL refuses COPY FROM into a table whose row-level security
    applies to the current role. A bulk writer therefore logs in as the
    owner (DATABASE_ADMIN_URL) and switches to the app role at once. Every
    statement then runs under row-level security like on any other
    connection. owner_privileges() lifts that only around one COPY, whose
    rows carry the workspace_id the code chose.
    """
    settings = get_settings()
    # Without _CONNECT_OPTIONS: forcing custom plans would also re-plan the
    # foreign key check that runs for every copied row (about a third
    # more time for a COPY into profiles).
    conn = psycopg.connect(to_libpq_url(settings.database_admin_url))
    try:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(settings.app_role)))
        conn.execute(
            "SELECT set_config('app.workspace_id', %s, false)",
            (str(int(workspace_id)),),
        )
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def owner_privileges(conn: psycopg.Connection) -> Iterator[None]:
    """Run the block as the connection's login role (the owner), then return.

    For connections from connect_bulk_writer() only. If the block fails,
    the transaction is aborted and its rollback restores the app role.
    """
    conn.execute("RESET ROLE")
    yield
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(get_settings().app_role)))


async def run_sync(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work in a thread so the event loop stays free."""
    return await asyncio.to_thread(func, *args, **kwargs)
