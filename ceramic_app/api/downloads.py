"""File downloads for signed-in members: import error reports and exports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/files", tags=["files"])
