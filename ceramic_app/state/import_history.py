"""State of the import history page: every import of the workspace."""

from __future__ import annotations

import secrets
from typing import Any

import reflex as rx

from ceramic_app import live
from ceramic_app.db import run_sync
from ceramic_app.imports import service as imports
from ceramic_app.models import Role
from ceramic_app.state.base import AppState
from ceramic_app.state.import_view import format_bytes, search_note


def _row(job: imports.ImportSummary) -> dict[str, str]:
    done = job.records_done
    total = job.total_records or 0
    return {
        "id": str(job.id),
        "file_name": job.file_name,
        "status": str(job.status),
        "who": job.created_by_name or "",
        "created_at": job.created_at.isoformat() if job.created_at else "",
        "created": f"{job.created_count:,}",
        "updated": f"{job.updated_count:,}",
        "merged": f"{job.merged_count:,}",
        "skipped": f"{job.skipped_count:,}",
        "rejected": f"{job.rejected_count:,}",
        "progress": f"{done:,} / {total:,}" if total else f"{done:,}",
        "has_errors": "yes" if job.error_file_path and job.rejected_count else "",
        "message": job.error_message or "",
        "search_note": search_note(
            job.finished_at, job.started_at, job.search_indexed_at
        ),
    }


class ImportHistoryState(AppState):
    """The workspace's imports, newest first, kept current by live events."""

    jobs: list[dict[str, str]] = []
    loading: bool = True
    _listener: str = ""

    @rx.event
    async def load(self) -> Any:
        """On_load: read the history and follow live changes."""
        principal = await self._authorize(Role.VIEWER)
        if principal is None:
            return await self._reject()
        rows = await run_sync(imports.list_imports, principal)
        self.jobs = [_row(job) for job in rows]
        self.loading = False
        return ImportHistoryState.listen

    @rx.event
    def download_errors(self, job_id: str) -> Any:
        """Download one import's rejected rows; the file route checks the session."""
        if not str(job_id).isdigit():
            return None
        return rx.download(url=f"/files/imports/{int(job_id)}/errors.csv")

    @rx.event(background=True)
    async def listen(self) -> None:
        """Refresh when an import of this workspace reports progress or ends."""
        async with self:
            principal = await self._authorize(Role.VIEWER)
            if principal is None:
                return
            token = secrets.token_hex(8)
            self._listener = token
        async for event in live.subscribe(principal.workspace_id):
            if event is None or not str(event.get("event", "")).startswith("import."):
                async with self:
                    if self._listener != token:
                        return
                continue
            rows = await run_sync(imports.list_imports, principal)
            async with self:
                if self._listener != token:
                    return
                self.jobs = [_row(job) for job in rows]


__all__ = ["ImportHistoryState", "format_bytes"]
