"""State of the templates page: the list, the block editor and the live preview.

Every role lists, reads and previews templates; admins create, edit and
delete them. Each handler re-checks the session and role against Postgres.
The preview is plain text from the sandboxed renderer, and the page shows it
as text, never as HTML.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import reflex as rx

from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.message_templates import service as templates
from ceramic_app.message_templates.render import syntax_error
from ceramic_app.message_templates.service import MAX_BLOCKS, TemplateView
from ceramic_app.models import Role
from ceramic_app.state import profile_view
from ceramic_app.state.base import AppState
from ceramic_app.state.fields import parse_id

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2_000
MAX_CONTENT_CHARS = 100_000


@dataclasses.dataclass
class TemplateItem:
    """A template in the list."""

    id: int = 0
    name: str = ""
    description: str = ""
    block_count: int = 0
    updated_at: str = ""


@dataclasses.dataclass
class BlockForm:
    """One block being edited, with its syntax error ("" when it parses)."""

    name: str = ""
    content: str = ""
    error: str = ""


@dataclasses.dataclass
class PreviewBlock:
    """The rendered text of one block, or the message that replaced it."""

    name: str = ""
    output: str = ""
    error: str = ""


def _item(view: TemplateView) -> TemplateItem:
    return TemplateItem(
        id=view.id,
        name=view.name,
        description=view.description,
        block_count=len(view.blocks),
        updated_at=view.updated_at.isoformat(),
    )


class TemplatesState(AppState):
    """The template list, the open template's blocks and their preview."""

    items: list[TemplateItem] = []
    loading: bool = True
    error: str = ""

    editor_mode: str = "none"  # none, new, edit
    selected_id: int = 0
    name: str = ""
    description: str = ""
    blocks: list[BlockForm] = []
    form_error: str = ""
    dirty: bool = False
    delete_open: bool = False
    field_keys: list[str] = []

    preview_query: str = ""
    matches: list[profile_view.ProfileMatch] = []
    preview_profile_id: int = 0
    preview_email: str = ""
    preview: list[PreviewBlock] = []

    # --- loading -------------------------------------------------------------------

    @rx.event
    async def load_page(self) -> Any:
        """On_load: list the templates and open the one named in ?template=."""
        principal = await self._authorize()
        if principal is None:
            return rx.redirect("/login")
        self.loading = True
        await self._load_list(principal)
        definitions = await run_sync(fields.list_fields, principal)
        self.field_keys = ["email", "custom_id", *(d.key for d in definitions)]
        wanted = parse_id(self.router.url.query_parameters.get("template", ""))
        if wanted is None and self.items:
            wanted = self.items[0].id
        if wanted is not None:
            await self._open(principal, wanted)
        else:
            self.editor_mode = "none"
        return None

    async def _load_list(self, principal: Principal) -> None:
        try:
            views = await run_sync(templates.list_templates, principal)
        except Exception:
            logger.exception(
                "loading templates failed in workspace %s", principal.workspace_id
            )
            self.error = (
                "The templates could not be loaded. Check the connection and retry."
            )
            self.loading = False
            return
        self.items = [_item(view) for view in views]
        self.error = ""
        self.loading = False

    @rx.event
    async def refresh(self) -> Any:
        """Reload the list (the retry button)."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        await self._load_list(principal)
        return None

    async def _open(self, principal: Principal, template_id: int) -> None:
        try:
            view = await run_sync(templates.get_template, principal, template_id)
        except NotFound:
            self.editor_mode = "none"
            self.selected_id = 0
            return
        self.editor_mode = "edit"
        self.selected_id = view.id
        self.name = view.name
        self.description = view.description
        self.blocks = [BlockForm(b.name, b.content, "") for b in view.blocks]
        self.form_error = ""
        self.dirty = False
        await self._render_preview(principal)

    @rx.event
    async def select(self, template_id: Any) -> Any:
        """Open a template from the list."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        target = parse_id(template_id)
        if target is not None:
            await self._open(principal, target)
        return None

    # --- editing (admins) ----------------------------------------------------------

    async def _admin(self) -> Principal | None:
        return await self._authorize(Role.ADMIN)

    @rx.event
    async def new_template(self) -> Any:
        """Start a new, unsaved template with one empty block."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        self.editor_mode = "new"
        self.selected_id = 0
        self.name = ""
        self.description = ""
        self.blocks = [BlockForm("Body", "", "")]
        self.form_error = ""
        self.dirty = False
        await self._render_preview(principal)
        return None

    @rx.event
    async def set_name(self, value: str) -> Any:
        """Store the template name."""
        if await self._admin() is None:
            return await self._reject()
        self.name = str(value)[:MAX_NAME_CHARS]
        self.dirty = True
        return None

    @rx.event
    async def set_description(self, value: str) -> Any:
        """Store the template description."""
        if await self._admin() is None:
            return await self._reject()
        self.description = str(value)[:MAX_DESCRIPTION_CHARS]
        self.dirty = True
        return None

    @rx.event
    async def set_block_name(self, index: int, value: str) -> Any:
        """Rename one block."""
        if await self._admin() is None:
            return await self._reject()
        position = _index(index, len(self.blocks))
        if position is not None:
            blocks = list(self.blocks)
            blocks[position] = dataclasses.replace(
                blocks[position], name=str(value)[:MAX_NAME_CHARS]
            )
            self.blocks = blocks
            self.dirty = True
        return None

    @rx.event
    async def set_block_content(self, index: int, value: str) -> Any:
        """Change one block's content, check its syntax and refresh the preview."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        position = _index(index, len(self.blocks))
        if position is None:
            return None
        content = str(value)[:MAX_CONTENT_CHARS]
        blocks = list(self.blocks)
        problem = syntax_error(content)
        blocks[position] = BlockForm(
            blocks[position].name,
            content,
            profile_view.as_sentence(problem) if problem else "",
        )
        self.blocks = blocks
        self.dirty = True
        await self._render_preview(principal)
        return None

    @rx.event
    async def add_block(self) -> Any:
        """Append an empty block with a name not used yet."""
        if await self._admin() is None:
            return await self._reject()
        if len(self.blocks) >= MAX_BLOCKS:
            self.form_error = f"A template has at most {MAX_BLOCKS} blocks."
            return None
        taken = {block.name.lower() for block in self.blocks}
        number = len(self.blocks) + 1
        while f"block {number}" in taken:
            number += 1
        self.blocks = [*self.blocks, BlockForm(f"Block {number}", "", "")]
        self.dirty = True
        return None

    @rx.event
    async def remove_block(self, index: int) -> Any:
        """Remove one block from the template being edited."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        position = _index(index, len(self.blocks))
        if position is not None:
            self.blocks = [b for i, b in enumerate(self.blocks) if i != position]
            self.dirty = True
            await self._render_preview(principal)
        return None

    @rx.event
    async def save(self) -> Any:
        """Create or update the template with its blocks."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        blocks = [{"name": b.name, "content": b.content} for b in self.blocks]
        try:
            if self.editor_mode == "new":
                view = await run_sync(
                    templates.create_template,
                    principal,
                    self.name,
                    description=self.description,
                    blocks=blocks,
                )
            else:
                view = await run_sync(
                    templates.update_template,
                    principal,
                    self.selected_id,
                    name=self.name,
                    description=self.description,
                    blocks=blocks,
                )
        except (FieldError, NotFound) as exc:
            self.form_error = str(exc)
            return None
        await self._load_list(principal)
        await self._open(principal, view.id)
        return rx.toast.success(f"Template {view.name} was saved.")

    @rx.event
    async def set_delete_open(self, value: bool) -> Any:
        """Open or close the delete confirmation."""
        if await self._admin() is None:
            return await self._reject()
        self.delete_open = bool(value) and self.editor_mode == "edit"
        return None

    @rx.event
    async def delete(self) -> Any:
        """Delete the open template."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        self.delete_open = False
        try:
            await run_sync(templates.delete_template, principal, self.selected_id)
        except NotFound as exc:
            return rx.toast.error(str(exc))
        name = self.name
        self.editor_mode = "none"
        self.selected_id = 0
        await self._load_list(principal)
        return rx.toast.success(f"Template {name} was deleted.")

    # --- preview -------------------------------------------------------------------

    @rx.event
    async def search_profiles(self, query: str) -> Any:
        """List profiles whose e-mail starts with the typed text."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        self.preview_query = str(query)[:254]
        self.matches = await run_sync(
            profile_view.find_profiles, principal, self.preview_query
        )
        return None

    @rx.event
    async def choose_profile(self, profile_id: str) -> Any:
        """Render the preview for one profile."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        chosen = next((m for m in self.matches if m.id == str(profile_id)), None)
        if chosen is None:
            return None
        self.preview_profile_id = int(chosen.id)
        self.preview_email = chosen.email
        self.preview_query = ""
        self.matches = []
        await self._render_preview(principal)
        return None

    async def _render_preview(self, principal: Principal) -> None:
        if not self.preview_profile_id:
            self.preview = []
            return
        blocks = [{"name": b.name, "content": b.content} for b in self.blocks]
        try:
            rendered = await run_sync(
                templates.preview_blocks, principal, blocks, self.preview_profile_id
            )
        except NotFound:
            self.preview_profile_id = 0
            self.preview_email = ""
            self.preview = []
            return
        self.preview = [
            PreviewBlock(block.name, block.output, block.error or "")
            for block in rendered
        ]


def _index(value: Any, length: int) -> int | None:
    try:
        position = int(value)
    except (TypeError, ValueError):
        return None
    return position if 0 <= position < length else None
