"""The bulk writer connection: app role by default, owner only around a COPY."""

from __future__ import annotations

import psycopg
import pytest

from ceramic_app.db import connect_bulk_writer, owner_privileges
from ceramic_app.settings import get_settings


def test_bulk_writer_uses_app_role(database):
    with connect_bulk_writer(123456) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == (
            get_settings().app_role
        )
        # Row-level security applies: COPY into profiles is refused.
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            with conn.cursor().copy(
                "COPY profiles (workspace_id, email, email_key) FROM STDIN"
            ) as copy:
                copy.write_row((123456, "a@example.com", "a@example.com"))
        conn.rollback()
        with owner_privileges(conn):
            owner = conn.execute("SELECT current_user").fetchone()[0]
        assert owner != get_settings().app_role
        assert conn.execute("SELECT current_user").fetchone()[0] == (
            get_settings().app_role
        )
        conn.rollback()


def test_failed_owner_block_restores_role(database):
    with connect_bulk_writer(123456) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            with owner_privileges(conn):
                conn.execute("SELECT 1 / 0")
        conn.rollback()
        assert conn.execute("SELECT current_user").fetchone()[0] == (
            get_settings().app_role
        )
