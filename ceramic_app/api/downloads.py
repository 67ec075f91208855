"""File downloads for signed-in members: import error reports and exports.

Files live outside any public folder; each download checks the session and
reads the job through the workspace's row-level security.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from ceramic_app.api.deps import require_principal
from ceramic_app.imports import service as imports
from ceramic_app.models import Role

router = APIRouter(prefix="/files", tags=["files"])


@router.get("/imports/{job_id}/errors.csv")
def import_errors(request: Request, job_id: int) -> FileResponse:
    """Download the rejected rows of an import, ready to fix and re-import."""
    principal = require_principal(request, Role.VIEWER)
    try:
        job = imports.get_import(principal, job_id)
        path = imports.error_file(principal, job_id)
    except imports.ImportRequestError:
        raise HTTPException(status_code=404, detail="Import not found.") from None
    if path is None:
        raise HTTPException(status_code=404, detail="This import rejected no rows.")
    stem = job["file_name"].rsplit(".", 1)[0]
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename=f"{stem}-rejected-rows.csv",
        headers={"Cache-Control": "no-store"},
    )
