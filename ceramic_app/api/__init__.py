"""HTTP endpoints beside the Reflex WebSocket: auth forms, downloads, REST API."""

from __future__ import annotations

from fastapi import FastAPI

from ceramic_app.api import auth, downloads


def build_api() -> FastAPI:
    """Build the FastAPI app that Reflex mounts in front of its own routes."""
    api = FastAPI(
        title="CeramicCRM Profiles",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    api.include_router(auth.router)
    api.include_router(downloads.router)
    return api
