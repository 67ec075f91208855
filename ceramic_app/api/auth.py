"""Sign-up, sign-in and sign-out endpoints: plain form posts answered with 303.

The session cookie is HttpOnly, so only an HTTP response can set it; the
browser then loads the next page in full, and the new WebSocket carries the
new cookie to the Reflex state.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from ceramic_app.accounts import service as accounts
from ceramic_app.api.ratelimit import allow_attempt
from ceramic_app.settings import get_settings

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/auth", tags=["auth"])


def _same_origin(request: Request) -> bool:
    """Reject cross-site form posts (login CSRF): Origin must match Host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _redirect(path: str, **query: str) -> RedirectResponse:
    target = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(target, status_code=303)


def _signed_in(request: Request, user_id: int, workspace_id: int) -> RedirectResponse:
    token = accounts.create_session(
        user_id, workspace_id, request.headers.get("user-agent", "")
    )
    response = _redirect("/profiles")
    settings = get_settings()
    response.set_cookie(
        accounts.SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    return response


def _client_key(request: Request, email: str) -> str:
    host = request.client.host if request.client else "unknown"
    return f"{host}:{email.strip().lower()[:254]}"


@router.post("/login")
def sign_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Check credentials, start a session and go to the profiles page."""
    if not _same_origin(request):
        return _redirect("/login", error="origin")
    if not allow_attempt("login", _client_key(request, email)):
        logger.warning("sign-in throttled for a client")
        return _redirect("/login", error="throttled", email=email[:254])
    try:
        user_id, workspace_id = accounts.authenticate(email, password)
    except accounts.AccountError as exc:
        return _redirect("/login", error=exc.code, email=email[:254])
    return _signed_in(request, user_id, workspace_id)


@router.post("/signup")
def sign_up(
    request: Request,
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    workspace: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Create an account and a workspace, then sign in."""
    keep = {"name": name[:120], "email": email[:254], "workspace": workspace[:120]}
    if not _same_origin(request):
        return _redirect("/signup", error="origin", **keep)
    if not allow_attempt("signup", _client_key(request, "")):
        return _redirect("/signup", error="throttled", **keep)
    try:
        user_id = accounts.sign_up(email, name, password, workspace)
        _, workspace_id = accounts.authenticate(email, password)
    except accounts.AccountError as exc:
        return _redirect("/signup", error=exc.code, **keep)
    logger.info("user %s signed up with workspace %s", user_id, workspace_id)
    return _signed_in(request, user_id, workspace_id)


@router.post("/logout")
def sign_out(request: Request) -> RedirectResponse:
    """End the session on the server and clear the cookie."""
    token = request.cookies.get(accounts.SESSION_COOKIE)
    accounts.revoke_session(token)
    response = _redirect("/login", signed_out="1")
    response.delete_cookie(accounts.SESSION_COOKIE, path="/")
    return response
