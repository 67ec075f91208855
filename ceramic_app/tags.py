"""Tags: create, rename, recolour and delete them, and tag or untag profiles in bulk.

Admins manage tags; members and admins tag profiles; every role can list
them. Names are unique per workspace ignoring case, and colours come from
PALETTE. add_tags() and remove_tags() take lists of profile and tag ids and
run as set-based statements, which also write one profile_changes row per
affected profile ({"tags": [names before, names after]}). Profile ids of
other workspaces are ignored, because row-level security hides them.

Tagging leaves profiles.updated_at alone, so it never causes an edit
conflict in update_profile().
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from ceramic_app import audit, live
from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.models import Role

logger = logging.getLogger(__name__)

PALETTE = ("gray", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink")
MAX_NAME_CHARS = 64
MAX_BULK_PROFILES = 50_000
# Up to this many profiles get one live event each; more get a single
# "profiles.changed" event, so a bulk action does not flood the channel.
MAX_LIVE_EVENTS = 100


class TagError(FieldError):
    """A tag name, colour or tagging request that cannot be applied."""


@dataclass(frozen=True)
class TagView:
    """A tag with the number of profiles that carry it."""

    id: int
    name: str
    color: str
    profile_count: int


@dataclass(frozen=True)
class TaggingResult:
    """Outcome of add_tags() or remove_tags()."""

    changed_pairs: int
    changed_profiles: int


def list_tags(principal: Principal) -> list[TagView]:
    """Return every tag of the workspace by name, with its profile count."""
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT t.id, t.name, t.color,"
                "       (SELECT count(*) FROM profile_tags pt WHERE pt.workspace_id = t.workspace_id"
                "         AND pt.tag_id = t.id) AS profile_count"
                "  FROM tags t ORDER BY lower(t.name), t.id"
            )
        )
        return [TagView(int(r.id), r.name, r.color, int(r.profile_count)) for r in rows]


def tag_choices(principal: Principal) -> list[tuple[int, str, str]]:
    """Return (id, name, colour) of every tag by name, without counting profiles."""
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text("SELECT id, name, color FROM tags ORDER BY lower(name), id")
        )
        return [(int(r.id), r.name, r.color) for r in rows]


def create_tag(principal: Principal, name: str, color: str = "gray") -> TagView:
    """Create a tag.

    Raises:
        TagError: for an empty or taken name or a colour outside PALETTE.
    """
    principal.require(Role.ADMIN)
    clean_name = _clean_name(name)
    clean_color = _clean_color(color)
    with tenant_connection(principal.workspace_id) as conn:
        try:
            with conn.begin_nested():
                tag_id = conn.execute(
                    text(
                        "INSERT INTO tags (workspace_id, name, color)"
                        " VALUES (:ws, :name, :color) RETURNING id"
                    ),
                    {
                        "ws": principal.workspace_id,
                        "name": clean_name,
                        "color": clean_color,
                    },
                ).scalar_one()
        except IntegrityError:
            raise TagError(_taken(clean_name)) from None
        view = TagView(int(tag_id), clean_name, clean_color, 0)
        audit.record(
            conn,
            principal,
            "tag.create",
            "tag",
            tag_id,
            after={"name": clean_name, "color": clean_color},
        )
    return view


def update_tag(
    principal: Principal,
    tag_id: int,
    *,
    name: str | None = None,
    color: str | None = None,
) -> TagView:
    """Rename or recolour a tag.

    Raises:
        NotFound: when the tag is not in the principal's workspace.
        TagError: as create_tag() does.
    """
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        before = _load(conn, tag_id, lock=True)
        new_name = before.name if name is None else _clean_name(name)
        new_color = before.color if color is None else _clean_color(color)
        try:
            with conn.begin_nested():
                conn.execute(
                    text("UPDATE tags SET name = :name, color = :color WHERE id = :id"),
                    {"id": tag_id, "name": new_name, "color": new_color},
                )
        except IntegrityError:
            raise TagError(_taken(new_name)) from None
        audit.record(
            conn,
            principal,
            "tag.update",
            "tag",
            tag_id,
            before={"name": before.name, "color": before.color},
            after={"name": new_name, "color": new_color},
        )
    return TagView(tag_id, new_name, new_color, before.profile_count)


def delete_tag(principal: Principal, tag_id: int) -> None:
    """Delete a tag and remove it from every profile.

    Raises:
        NotFound: when the tag is not in the principal's workspace.
    """
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        before = _load(conn, tag_id, lock=True)
        conn.execute(text("DELETE FROM tags WHERE id = :id"), {"id": tag_id})
        audit.record(
            conn,
            principal,
            "tag.delete",
            "tag",
            tag_id,
            before={"name": before.name, "color": before.color},
            meta={"profiles": before.profile_count},
        )


def add_tags(
    principal: Principal,
    profile_ids: Sequence[int],
    tag_ids: Sequence[int],
    *,
    source: str = "ui",
) -> TaggingResult:
    """Put every tag on every profile; pairs that already exist are skipped.

    Raises:
        NotFound: when a tag id is not in the workspace.
        TagError: for more than MAX_BULK_PROFILES profile ids.
    """
    return _change_tags(principal, profile_ids, tag_ids, source, adding=True)


def remove_tags(
    principal: Principal,
    profile_ids: Sequence[int],
    tag_ids: Sequence[int],
    *,
    source: str = "ui",
) -> TaggingResult:
    """Take every tag off every profile; pairs that do not exist are skipped.

    Raises:
        NotFound: when a tag id is not in the workspace.
        TagError: for more than MAX_BULK_PROFILES profile ids.
    """
    return _change_tags(principal, profile_ids, tag_ids, source, adding=False)


# The statement's snapshot does not see its own INSERT or DELETE, so the
# LATERAL subquery reads the tags as they were before the change.
_TAG_NAMES = (
    "SELECT coalesce(jsonb_agg(t.name ORDER BY lower(t.name)), '[]'::jsonb)"
    "  FROM profile_tags pt JOIN tags t"
    "    ON t.workspace_id = pt.workspace_id AND t.id = pt.tag_id"
    " WHERE pt.workspace_id = :ws AND pt.profile_id = pp.profile_id"
)
_HISTORY = (
    " history AS (INSERT INTO profile_changes (workspace_id, profile_id, actor_type,"
    "   actor_id, actor_label, source, changes)"
    " SELECT :ws, pp.profile_id, :actor_type, :actor_id, :actor_label, :source,"
    "        jsonb_build_object('tags', jsonb_build_array(before.names, {after}))"
    "   FROM per_profile pp CROSS JOIN LATERAL (" + _TAG_NAMES + ") AS before(names)"
    " RETURNING profile_id)"
    " SELECT (SELECT count(*) FROM changed) AS pairs,"
    "        (SELECT count(*) FROM history) AS profiles,"
    "        (SELECT coalesce(array_agg(profile_id), '{{}}') FROM history) AS ids"
)
_ADD = (
    "WITH changed AS (INSERT INTO profile_tags (workspace_id, profile_id, tag_id)"
    " SELECT :ws, p.id, t.id FROM profiles p JOIN tags t ON t.workspace_id = p.workspace_id"
    "  WHERE p.workspace_id = :ws AND p.id = ANY(CAST(:profile_ids AS bigint[]))"
    "    AND t.id = ANY(CAST(:tag_ids AS bigint[]))"
    " ON CONFLICT DO NOTHING RETURNING profile_id, tag_id),"
    " per_profile AS (SELECT profile_id, array_agg(tag_id) AS tag_ids FROM changed"
    "  GROUP BY profile_id),"
    + _HISTORY.format(
        after="(SELECT jsonb_agg(n ORDER BY lower(n)) FROM ("
        " SELECT jsonb_array_elements_text(before.names) AS n UNION"
        " SELECT t.name FROM tags t WHERE t.workspace_id = :ws"
        "    AND t.id = ANY(pp.tag_ids)) AS names)"
    )
)
_REMOVE = (
    "WITH changed AS (DELETE FROM profile_tags WHERE workspace_id = :ws"
    "  AND profile_id = ANY(CAST(:profile_ids AS bigint[]))"
    "  AND tag_id = ANY(CAST(:tag_ids AS bigint[])) RETURNING profile_id, tag_id),"
    " per_profile AS (SELECT profile_id, array_agg(tag_id) AS tag_ids FROM changed"
    "  GROUP BY profile_id),"
    + _HISTORY.format(
        after="(SELECT coalesce(jsonb_agg(t.name ORDER BY lower(t.name)), '[]'::jsonb)"
        "  FROM profile_tags pt JOIN tags t"
        "    ON t.workspace_id = pt.workspace_id AND t.id = pt.tag_id"
        " WHERE pt.workspace_id = :ws AND pt.profile_id = pp.profile_id"
        "   AND NOT pt.tag_id = ANY(pp.tag_ids))"
    )
)


def _change_tags(
    principal: Principal,
    profile_ids: Sequence[int],
    tag_ids: Sequence[int],
    source: str,
    *,
    adding: bool,
) -> TaggingResult:
    principal.require(Role.MEMBER)
    unique_profiles = sorted({int(profile_id) for profile_id in profile_ids})
    unique_tags = sorted({int(tag_id) for tag_id in tag_ids})
    if len(unique_profiles) > MAX_BULK_PROFILES:
        raise TagError(
            f"{len(unique_profiles)} profiles were selected; tag at most"
            f" {MAX_BULK_PROFILES} at once, or use a segment job."
        )
    if not unique_profiles or not unique_tags:
        return TaggingResult(0, 0)
    with tenant_connection(principal.workspace_id) as conn:
        tag_names = _require_tags(conn, unique_tags)
        row = conn.execute(
            text(_ADD if adding else _REMOVE),
            {
                "ws": principal.workspace_id,
                "profile_ids": unique_profiles,
                "tag_ids": unique_tags,
                "actor_type": principal.actor_type,
                "actor_id": principal.actor_id,
                "actor_label": principal.actor_label,
                "source": source[:40],
            },
        ).one()
        changed_ids = sorted(int(profile_id) for profile_id in row.ids)
        if row.pairs:
            audit.record(
                conn,
                principal,
                "profile.tag" if adding else "profile.untag",
                "profile",
                changed_ids[0] if len(changed_ids) == 1 else None,
                meta={
                    "tags": tag_names,
                    "profiles": len(changed_ids),
                    "pairs": int(row.pairs),
                    "profile_ids": changed_ids[:100],
                    "source": source,
                },
            )
    _publish(principal.workspace_id, changed_ids)
    return TaggingResult(int(row.pairs), len(changed_ids))


def _publish(workspace_id: int, profile_ids: list[int]) -> None:
    if len(profile_ids) > MAX_LIVE_EVENTS:
        live.publish(workspace_id, "profiles.changed", count=len(profile_ids))
        return
    for profile_id in profile_ids:
        live.publish(workspace_id, "profile.changed", profile_id=profile_id)


def _require_tags(conn: Connection, tag_ids: list[int]) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT id, name FROM tags WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id"
        ),
        {"ids": tag_ids},
    ).all()
    missing = sorted(set(tag_ids) - {int(row.id) for row in rows})
    if missing:
        raise NotFound(
            f"Tags {', '.join(map(str, missing))} were not found in this workspace."
        )
    return [row.name for row in rows]


def _load(conn: Connection, tag_id: int, *, lock: bool = False) -> TagView:
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        text(
            "SELECT id, name, color, (SELECT count(*) FROM profile_tags pt"
            "   WHERE pt.workspace_id = tags.workspace_id AND pt.tag_id = tags.id)"
            f" AS profile_count FROM tags WHERE id = :id{suffix}"
        ),
        {"id": tag_id},
    ).first()
    if row is None:
        raise NotFound(f"Tag {tag_id} was not found in this workspace.")
    return TagView(int(row.id), row.name, row.color, int(row.profile_count))


def _clean_name(name: str) -> str:
    clean = " ".join((name or "").split())
    if not clean:
        raise TagError("Enter a tag name.")
    if "," in clean:
        # Import files list several tags in one cell, separated by commas.
        raise TagError(
            f"The tag name {clean!r} contains a comma, which separates tags in"
            " imported files. Use another character, such as '/' or '-'."
        )
    if len(clean) > MAX_NAME_CHARS:
        raise TagError(
            f"The tag name is longer than {MAX_NAME_CHARS} characters; shorten it."
        )
    return clean


def _clean_color(color: str) -> str:
    if color not in PALETTE:
        raise TagError(
            f"Colour {color!r} is not available; choose one of {', '.join(PALETTE)}."
        )
    return color


def _taken(name: str) -> str:
    return (
        f"A tag named {name!r} already exists (names ignore case); choose another name."
    )
