"""Request dependencies: who is asking, from the session cookie."""

from __future__ import annotations

from fastapi import HTTPException, Request

from ceramic_app.accounts import service as accounts
from ceramic_app.models import Role


def require_principal(request: Request, role: Role = Role.VIEWER) -> accounts.Principal:
    """Return the signed-in principal, or raise 401/403."""
    principal = accounts.resolve_session(request.cookies.get(accounts.SESSION_COOKIE))
    if principal is None:
        raise HTTPException(status_code=401, detail="Sign in first.")
    if not principal.can(role):
        raise HTTPException(
            status_code=403, detail=f"This needs the {role.value} role."
        )
    return principal
