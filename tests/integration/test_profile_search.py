"""Search documents in profile_search: the profiles triggers, deferral and refresh.

Every test writes as the app role through a tenant-scoped connection, so
row-level security applies to profiles and profile_search alike.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import connect_raw, tenant_connection
from ceramic_app.profiles import bulk
from ceramic_app.search.index import DEFER_SEARCH_SQL, defer_search, refresh_documents
from tests.integration.profile_data import add_field

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _insert(conn: psycopg.Connection, workspace_id: int, email: str, **values) -> int:
    row = conn.execute(
        "INSERT INTO profiles (workspace_id, email, email_key, custom_id, attributes)"
        " VALUES (%s, %s, %s, %s, %s::jsonb) RETURNING id",
        (
            workspace_id,
            email,
            email,
            values.get("custom_id"),
            values.get("attributes", "{}"),
        ),
    ).fetchone()
    return int(row[0])


def _documents(principal: Principal) -> dict[int, str]:
    """Return profile id -> stored document, as text."""
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text("SELECT profile_id, document::text FROM profile_search")
        ).all()
    return {int(profile_id): document for profile_id, document in rows}


def _stale(principal: Principal) -> list[int]:
    """Return ids of profiles whose document is missing or differs from the profile."""
    with tenant_connection(principal.workspace_id) as conn:
        return list(
            conn.execute(
                text(
                    "SELECT p.id FROM profiles p LEFT JOIN profile_search s"
                    "   ON s.workspace_id = p.workspace_id AND s.profile_id = p.id"
                    " WHERE s.document IS DISTINCT FROM"
                    "   profile_search_vector(p.email_key, p.custom_id, p.attributes)"
                    " ORDER BY p.id"
                )
            ).scalars()
        )


def _matches(principal: Principal, term: str) -> list[int]:
    with tenant_connection(principal.workspace_id) as conn:
        return list(
            conn.execute(
                text(
                    "SELECT profile_id FROM profile_search"
                    " WHERE document @@ plainto_tsquery('simple', :q)"
                    " ORDER BY profile_id"
                ),
                {"q": term},
            ).scalars()
        )


def test_insert_writes_document(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        first = _insert(
            conn,
            principal.workspace_id,
            "ana@example.com",
            custom_id="CX7",
            attributes='{"city": "Malmö", "score": 12, "vip": true}',
        )
        second = _insert(conn, principal.workspace_id, "ben@example.com")
        conn.commit()
    documents = _documents(principal)
    assert set(documents) == {first, second}
    assert "'malmö'" in documents[first]
    assert "'12'" in documents[first]
    assert "'cx7'" in documents[first]
    assert "true" not in documents[first]
    assert _matches(principal, "MALMÖ") == [first]
    assert _stale(principal) == []


def test_update_rewrites_document(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        profile_id = _insert(
            conn,
            principal.workspace_id,
            "ana@example.com",
            attributes='{"city": "Graz"}',
        )
        conn.commit()
        conn.execute(
            'UPDATE profiles SET attributes = \'{"city": "Lagos"}\' WHERE id = %s',
            (profile_id,),
        )
        conn.commit()
    assert _matches(principal, "lagos") == [profile_id]
    assert _matches(principal, "graz") == []
    assert _stale(principal) == []


def test_custom_id_change_rewrites_document(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        profile_id = _insert(
            conn, principal.workspace_id, "ana@example.com", custom_id="OLD-1"
        )
        conn.commit()
        conn.execute(
            "UPDATE profiles SET custom_id = 'NEW-2' WHERE id = %s", (profile_id,)
        )
        conn.commit()
    assert _matches(principal, "new-2") == [profile_id]
    assert _matches(principal, "old-1") == []
    assert _stale(principal) == []


def test_upsert_writes_inserted_and_updated(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        kept = _insert(
            conn, principal.workspace_id, "ana@example.com", attributes='{"a": "one"}'
        )
        conn.commit()
        conn.execute(
            "INSERT INTO profiles (workspace_id, email, email_key, attributes)"
            " VALUES (%(ws)s, 'ana@example.com', 'ana@example.com', '{\"a\": \"two\"}'),"
            "        (%(ws)s, 'ben@example.com', 'ben@example.com', '{\"a\": \"three\"}')"
            " ON CONFLICT (workspace_id, email_key) DO UPDATE"
            "   SET attributes = EXCLUDED.attributes",
            {"ws": principal.workspace_id},
        )
        conn.commit()
    assert _matches(principal, "two") == [kept]
    assert len(_matches(principal, "three")) == 1
    assert _stale(principal) == []


def test_delete_cascades_to_document(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        deleted = _insert(conn, principal.workspace_id, "ana@example.com")
        kept = _insert(conn, principal.workspace_id, "ben@example.com")
        conn.commit()
        conn.execute("DELETE FROM profiles WHERE id = %s", (deleted,))
        conn.commit()
    assert set(_documents(principal)) == {kept}


def test_documents_stay_in_workspace(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    for principal in (first, second):
        with connect_raw(principal.workspace_id) as conn:
            _insert(conn, principal.workspace_id, "same@example.com")
            conn.commit()
    first_ids = set(_documents(first))
    second_ids = set(_documents(second))
    assert len(first_ids) == 1
    assert len(second_ids) == 1
    assert first_ids.isdisjoint(second_ids)
    with connect_raw() as conn:
        # Without a workspace the tenant policy hides every document.
        assert conn.execute("SELECT count(*) FROM profile_search").fetchone()[0] == 0


def test_app_role_cannot_write_other_workspace(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    with connect_raw(second.workspace_id) as conn:
        other = _insert(conn, second.workspace_id, "other@example.com")
        conn.commit()
    with connect_raw(first.workspace_id) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO profile_search (workspace_id, profile_id, document)"
                " VALUES (%s, %s, to_tsvector('simple', 'forged'))",
                (second.workspace_id, other),
            )
        conn.rollback()
    assert _matches(second, "forged") == []


def test_deferred_session_writes_nothing(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        kept = _insert(
            conn, principal.workspace_id, "ana@example.com", attributes='{"a": "old"}'
        )
        conn.commit()
        defer_search(conn)
        conn.commit()
        added = _insert(conn, principal.workspace_id, "ben@example.com")
        conn.execute(
            'UPDATE profiles SET attributes = \'{"a": "new"}\' WHERE id = %s', (kept,)
        )
        conn.commit()
    assert _stale(principal) == [kept, added]
    assert _matches(principal, "old") == [kept]
    with connect_raw(principal.workspace_id) as conn:
        assert refresh_documents(conn, principal.workspace_id, LONG_AGO) == 2
    assert _stale(principal) == []
    assert _matches(principal, "new") == [kept]


def test_deferral_ends_with_session(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        conn.execute(DEFER_SEARCH_SQL)
        conn.commit()
    with connect_raw(principal.workspace_id) as conn:
        _insert(conn, principal.workspace_id, "ana@example.com")
        conn.commit()
    assert _stale(principal) == []


def test_refresh_reads_only_since(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        defer_search(conn)
        old = _insert(conn, principal.workspace_id, "old@example.com")
        conn.execute(
            "UPDATE profiles SET updated_at = now() - interval '1 day' WHERE id = %s",
            (old,),
        )
        conn.commit()
        since = conn.execute("SELECT now()").fetchone()[0]
        conn.commit()
        new = _insert(conn, principal.workspace_id, "new@example.com")
        conn.commit()
    with connect_raw(principal.workspace_id) as conn:
        assert refresh_documents(conn, principal.workspace_id, since) == 1
    assert _stale(principal) == [old]
    assert set(_documents(principal)) == {new}


def test_refresh_in_chunks_twice(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        defer_search(conn)
        conn.execute(
            "INSERT INTO profiles (workspace_id, email, email_key, attributes)"
            " SELECT %s, 'p' || n || '@example.com', 'p' || n || '@example.com',"
            "   jsonb_build_object('n', 'value' || n)"
            " FROM generate_series(1, 250) AS n",
            (principal.workspace_id,),
        )
        conn.commit()
    with connect_raw(principal.workspace_id) as conn:
        # 250 profiles with one updated_at: the keyset must continue on id.
        assert refresh_documents(conn, principal.workspace_id, LONG_AGO, 40) == 250
        assert refresh_documents(conn, principal.workspace_id, LONG_AGO, 40) == 250
    assert _stale(principal) == []
    assert len(_documents(principal)) == 250


def test_refresh_rejects_open_transaction(principal: Principal) -> None:
    with connect_raw(principal.workspace_id) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(ValueError, match="open transaction"):
            refresh_documents(conn, principal.workspace_id, LONG_AGO)


def test_refresh_keeps_concurrent_edit(principal: Principal) -> None:
    """A refresh that read a profile before an edit committed must not undo it."""
    with connect_raw(principal.workspace_id) as conn:
        defer_search(conn)
        profile_id = _insert(
            conn, principal.workspace_id, "ana@example.com", attributes='{"a": "old"}'
        )
        conn.commit()
    editor = connect_raw(principal.workspace_id)
    # The edit's trigger writes the document row, which stays locked until it commits.
    editor.execute(
        'UPDATE profiles SET attributes = \'{"a": "edited"}\' WHERE id = %s',
        (profile_id,),
    )
    outcome: dict[str, object] = {}

    def refresh() -> None:
        with connect_raw(principal.workspace_id) as conn:
            outcome["count"] = refresh_documents(conn, principal.workspace_id, LONG_AGO)

    thread = threading.Thread(target=refresh)
    thread.start()
    thread.join(timeout=2)
    # The refresh read the old row and now waits on the editor's document row.
    assert thread.is_alive()
    editor.commit()
    editor.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert outcome["count"] == 1
    assert _matches(principal, "edited") == [profile_id]
    assert _matches(principal, "old") == []
    assert _stale(principal) == []


def test_bulk_set_field_keeps_documents(principal: Principal) -> None:
    add_field(principal, "plan", "text")
    with connect_raw(principal.workspace_id) as conn:
        for n in range(5):
            _insert(
                conn,
                principal.workspace_id,
                f"p{n}@example.com",
                attributes='{"plan": "free"}',
            )
        conn.commit()
    result = bulk.set_field(
        principal.workspace_id,
        bulk.Selection(all_matching=True),
        {"actor": bulk.actor_params(principal), "field_key": "plan", "value": "gold"},
    )
    assert result.changed == 5
    assert _stale(principal) == []
    assert len(_matches(principal, "gold")) == 5
    assert _matches(principal, "free") == []
    bulk.undo_operation(
        principal.workspace_id,
        result.operation_id,
        {"actor": bulk.actor_params(principal)},
    )
    assert _stale(principal) == []
    assert len(_matches(principal, "free")) == 5


def test_refresh_leaves_current_documents(principal: Principal) -> None:
    """A refresh over documents the trigger already wrote changes none of them."""
    with connect_raw(principal.workspace_id) as conn:
        _insert(conn, principal.workspace_id, "ana@example.com")
        conn.commit()
    before = _documents(principal)
    with connect_raw(principal.workspace_id) as conn:
        since = datetime.now(UTC) - timedelta(minutes=5)
        assert refresh_documents(conn, principal.workspace_id, since) == 1
    assert _documents(principal) == before
