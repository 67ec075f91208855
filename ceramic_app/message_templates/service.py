"""Template service: manage templates and blocks, preview them for a profile, find references.

Admins create, edit and delete templates; every role can list, read and
preview them. Each write records an audit entry in the same transaction.

    view = create_template(admin, "Welcome", blocks=[{"name": "Body",
                           "content": "Hello {{ first_name }}"}])
    preview_template(member, view.id, profile_id)   # -> [RenderedBlock, ...]
    find_field_references(admin, "first_name")      # -> [TemplateReference, ...]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from ceramic_app import audit
from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.message_templates.render import (
    find_references,
    render_block,
    syntax_error,
)
from ceramic_app.models import Role

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 120
MAX_BLOCKS = 50


@dataclass(frozen=True)
class BlockView:
    """One named block of a template."""

    id: int
    name: str
    position: int
    content: str


@dataclass(frozen=True)
class TemplateView:
    """A template with its blocks in display order."""

    id: int
    name: str
    description: str
    blocks: list[BlockView]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RenderedBlock:
    """The preview of one block: output, or an error message instead."""

    block_id: int | None
    name: str
    output: str
    error: str | None


@dataclass(frozen=True)
class TemplateReference:
    """A block that uses a field key, with a snippet of text around each use."""

    template_id: int
    template_name: str
    block_id: int
    block_name: str
    snippets: list[str]


def list_templates(principal: Principal) -> list[TemplateView]:
    """Return every template of the workspace with its blocks, newest first."""
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        ids = conn.execute(
            text("SELECT id FROM templates ORDER BY updated_at DESC, id DESC")
        ).scalars()
        return [_load(conn, int(template_id)) for template_id in ids]


def get_template(principal: Principal, template_id: int) -> TemplateView:
    """Return one template with its blocks.

    Raises:
        NotFound: when the template is not in the principal's workspace.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        return _load(conn, template_id)


def create_template(
    principal: Principal,
    name: str,
    *,
    description: str = "",
    blocks: Sequence[Mapping[str, Any]] = (),
) -> TemplateView:
    """Create a template; blocks are {"name": ..., "content": ...} in display order.

    Raises:
        FieldError: for an empty name, a duplicate block name or a block with
            a template syntax error.
    """
    principal.require(Role.ADMIN)
    clean_name = _clean_name(name, "template")
    clean_blocks = _clean_blocks(blocks)
    with tenant_connection(principal.workspace_id) as conn:
        template_id = conn.execute(
            text(
                "INSERT INTO templates (workspace_id, name, description, created_by)"
                " VALUES (:ws, :name, :description, :by) RETURNING id"
            ),
            {
                "ws": principal.workspace_id,
                "name": clean_name,
                "description": description.strip(),
                "by": principal.user_id,
            },
        ).scalar_one()
        _insert_blocks(conn, principal.workspace_id, template_id, clean_blocks)
        view = _load(conn, template_id)
        audit.record(
            conn,
            principal,
            "template.create",
            "template",
            template_id,
            after=_audit_form(view),
        )
    return view


def update_template(
    principal: Principal,
    template_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    blocks: Sequence[Mapping[str, Any]] | None = None,
) -> TemplateView:
    """Change a template's name or description, or replace all of its blocks.

    Raises:
        NotFound: when the template is not in the principal's workspace.
        FieldError: as create_template() does.
    """
    principal.require(Role.ADMIN)
    clean_blocks = None if blocks is None else _clean_blocks(blocks)
    with tenant_connection(principal.workspace_id) as conn:
        before = _load(conn, template_id, lock=True)
        conn.execute(
            text(
                "UPDATE templates SET name = :name, description = :description,"
                " updated_at = now() WHERE id = :id"
            ),
            {
                "id": template_id,
                "name": before.name if name is None else _clean_name(name, "template"),
                "description": (
                    before.description if description is None else description.strip()
                ),
            },
        )
        if clean_blocks is not None:
            conn.execute(
                text("DELETE FROM template_blocks WHERE template_id = :id"),
                {"id": template_id},
            )
            _insert_blocks(conn, principal.workspace_id, template_id, clean_blocks)
        after = _load(conn, template_id)
        audit.record(
            conn,
            principal,
            "template.update",
            "template",
            template_id,
            before=_audit_form(before),
            after=_audit_form(after),
        )
    return after


def delete_template(principal: Principal, template_id: int) -> None:
    """Delete a template and its blocks.

    Raises:
        NotFound: when the template is not in the principal's workspace.
    """
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        before = _load(conn, template_id, lock=True)
        conn.execute(text("DELETE FROM templates WHERE id = :id"), {"id": template_id})
        audit.record(
            conn,
            principal,
            "template.delete",
            "template",
            template_id,
            before=_audit_form(before),
        )


def preview_template(
    principal: Principal, template_id: int, profile_id: int
) -> list[RenderedBlock]:
    """Render every block of a saved template for one profile.

    Raises:
        NotFound: when the template or the profile is not in the workspace.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        template = _load(conn, template_id)
        context = profile_context(conn, profile_id)
    return [
        _render(block.id, block.name, block.content, context)
        for block in template.blocks
    ]


def preview_blocks(
    principal: Principal, blocks: Sequence[Mapping[str, Any]], profile_id: int
) -> list[RenderedBlock]:
    """Render unsaved blocks ({"name", "content"}) for one profile, for live editing.

    Raises:
        NotFound: when the profile is not in the workspace.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        context = profile_context(conn, profile_id)
    return [
        _render(
            None, str(block.get("name", "")), str(block.get("content", "")), context
        )
        for block in blocks[:MAX_BLOCKS]
    ]


def _render(
    block_id: int | None, name: str, content: str, context: Mapping[str, Any]
) -> RenderedBlock:
    result = render_block(content, context)
    return RenderedBlock(block_id, name, result.output, result.error)


def profile_context(conn: Connection, profile_id: int) -> dict[str, Any]:
    """Return the names a template can read for one profile: its attributes plus built-ins.

    Raises:
        NotFound: when the profile is not in the connection's workspace.
    """
    row = conn.execute(
        text(
            "SELECT id, email, custom_id, attributes, created_at, updated_at"
            " FROM profiles WHERE id = :id"
        ),
        {"id": profile_id},
    ).first()
    if row is None:
        raise NotFound(f"Profile {profile_id} was not found in this workspace.")
    context = dict(row.attributes)
    context.update(
        id=int(row.id),
        email=row.email,
        custom_id=row.custom_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    return context


def find_field_references(principal: Principal, key: str) -> list[TemplateReference]:
    """List every template block that uses key, with snippets around each use."""
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        return references_to(conn, key)


def references_to(conn: Connection, key: str) -> list[TemplateReference]:
    """List the blocks that use key, in the connection's workspace."""
    # The word-boundary regex narrows the scan in SQL; the Jinja lexer then
    # drops uses as an attribute (x.key) or inside a string literal.
    rows = conn.execute(
        text(
            "SELECT t.id AS template_id, t.name AS template_name, b.id AS block_id,"
            "       b.name AS block_name, b.content"
            "  FROM template_blocks b JOIN templates t"
            "    ON t.workspace_id = b.workspace_id AND t.id = b.template_id"
            " WHERE b.content ~ ('\\m' || :key || '\\M')"
            " ORDER BY t.name, t.id, b.position, b.id"
        ),
        {"key": key},
    )
    references = []
    for row in rows:
        snippets = find_references(row.content, key)
        if snippets:
            references.append(
                TemplateReference(
                    template_id=int(row.template_id),
                    template_name=row.template_name,
                    block_id=int(row.block_id),
                    block_name=row.block_name,
                    snippets=snippets,
                )
            )
    return references


def _clean_name(name: str, what: str) -> str:
    clean = (name or "").strip()
    if not clean:
        raise FieldError(f"Enter a {what} name.")
    if len(clean) > MAX_NAME_CHARS:
        raise FieldError(
            f"The {what} name has {len(clean)} characters; the maximum is {MAX_NAME_CHARS}."
        )
    return clean


def _clean_blocks(blocks: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    if len(blocks) > MAX_BLOCKS:
        raise FieldError(
            f"A template has at most {MAX_BLOCKS} blocks, not {len(blocks)}."
        )
    cleaned: list[tuple[str, str]] = []
    seen: set[str] = set()
    for block in blocks:
        name = _clean_name(str(block.get("name", "")), "block")
        if name.lower() in seen:
            raise FieldError(
                f"Two blocks are named {name!r}; give each block its own name."
            )
        seen.add(name.lower())
        content = str(block.get("content", ""))
        problem = syntax_error(content)
        if problem:
            raise FieldError(f"Block {name!r}: {problem.rstrip('.')}.")
        cleaned.append((name, content))
    return cleaned


def _insert_blocks(
    conn: Connection, workspace_id: int, template_id: int, blocks: list[tuple[str, str]]
) -> None:
    for position, (name, content) in enumerate(blocks):
        conn.execute(
            text(
                "INSERT INTO template_blocks (workspace_id, template_id, name, position, content)"
                " VALUES (:ws, :template_id, :name, :position, :content)"
            ),
            {
                "ws": workspace_id,
                "template_id": template_id,
                "name": name,
                "position": position,
                "content": content,
            },
        )


def _load(conn: Connection, template_id: int, *, lock: bool = False) -> TemplateView:
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        text(
            "SELECT id, name, description, created_at, updated_at FROM templates"
            f" WHERE id = :id{suffix}"
        ),
        {"id": template_id},
    ).first()
    if row is None:
        raise NotFound(f"Template {template_id} was not found in this workspace.")
    blocks = [
        BlockView(int(b.id), b.name, int(b.position), b.content)
        for b in conn.execute(
            text(
                "SELECT id, name, position, content FROM template_blocks"
                " WHERE template_id = :id ORDER BY position, id"
            ),
            {"id": template_id},
        )
    ]
    return TemplateView(
        id=int(row.id),
        name=row.name,
        description=row.description,
        blocks=blocks,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _audit_form(view: TemplateView) -> dict[str, Any]:
    return {
        "name": view.name,
        "description": view.description,
        "blocks": [{"name": b.name, "content": b.content} for b in view.blocks],
    }
