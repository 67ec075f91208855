"""Accounts: create workspaces and users, sign in, and resolve session tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from ceramic_app.accounts.passwords import (
    hash_password,
    password_problem,
    verify_password,
)
from ceramic_app.db import global_connection
from ceramic_app.emails import InvalidEmail, normalize_email
from ceramic_app.models import Role
from ceramic_app.settings import get_settings

SESSION_COOKIE = "ceramic_session"
# Messages for the error codes that the sign-in and sign-up endpoints put in
# the redirect URL. Pages show only these texts, so a crafted link cannot put
# arbitrary words on the page. "email_invalid" is explained by re-checking the
# address, see error_message().
ERROR_MESSAGES = {
    "invalid": "E-mail or password is incorrect.",
    "no_workspace": "This account belongs to no workspace. Ask an admin to add you.",
    "throttled": "Too many attempts. Wait 15 minutes and try again.",
    "origin": "The form was sent from another site and was rejected. Reload the page.",
    "exists": "An account with this e-mail already exists. Sign in instead.",
    "name_missing": "Enter your name.",
    "workspace_missing": "Enter a workspace name.",
    "password_weak": "Password must have at least 10 characters.",
    "email_invalid": "This e-mail address is not valid.",
}
_ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


class AccountError(ValueError):
    """A sign-up or sign-in request that cannot succeed; the message is for the user.

    code is a stable identifier that pages can turn back into the message.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class PermissionDenied(PermissionError):
    """The principal's role does not allow the requested action."""


@dataclass(frozen=True)
class Principal:
    """Who is asking, and in which workspace with which role."""

    user_id: int
    user_email: str
    user_name: str
    workspace_id: int
    workspace_slug: str
    workspace_name: str
    role: Role
    # Who acts, for audit entries: "user", "api_key", "import_job" or "system".
    actor_type: str = "user"

    @property
    def actor_id(self) -> int:
        """Id of the acting user (or API key / job, for other actor types)."""
        return self.user_id

    @property
    def actor_label(self) -> str:
        """Human-readable name of the actor for audit and history views."""
        return f"{self.user_name} <{self.user_email}>"

    def can(self, role: Role) -> bool:
        """Tell whether this principal's role is at least role."""
        return _ROLE_RANK[self.role] >= _ROLE_RANK[role]

    def require(self, role: Role) -> None:
        """Raise PermissionDenied unless the role is at least role."""
        if not self.can(role):
            raise PermissionDenied(f"This action needs the {role.value} role.")


def hash_token(token: str) -> str:
    """Return the stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def slugify(name: str) -> str:
    """Turn a workspace name into a URL-safe slug base."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40]
    return slug if len(slug) >= 2 else "workspace"


def _unique_slug(conn: Connection, name: str) -> str:
    base = slugify(name)
    taken = {
        row[0]
        for row in conn.execute(
            text("SELECT slug FROM workspaces WHERE slug = :b OR slug LIKE :p"),
            {"b": base, "p": f"{base}-%"},
        )
    }
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def validate_new_user(email: str, name: str, password: str) -> str:
    """Check a new account's e-mail, name and password; return the e-mail key."""
    try:
        email_key = normalize_email(email)
    except InvalidEmail as exc:
        raise AccountError(
            f"E-mail {email.strip()!r} is not valid: {exc}.", "email_invalid"
        ) from None
    if not name.strip():
        raise AccountError("Enter your name.", "name_missing")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, "password_weak")
    return email_key


def create_workspace(conn: Connection, name: str) -> tuple[int, str]:
    """Insert a workspace with a unique slug; return (id, slug)."""
    clean = name.strip()
    if not clean:
        raise AccountError("Enter a workspace name.", "workspace_missing")
    slug = _unique_slug(conn, clean)
    row = conn.execute(
        text("INSERT INTO workspaces (slug, name) VALUES (:s, :n) RETURNING id"),
        {"s": slug, "n": clean[:120]},
    ).one()
    return int(row[0]), slug


def insert_user(
    conn: Connection, email: str, email_key: str, name: str, password: str
) -> int | None:
    """Insert a user with a hashed password; return its id, or None if the e-mail is taken."""
    user_id = conn.execute(
        text(
            "INSERT INTO users (email, email_key, name, password_hash)"
            " VALUES (:e, :k, :n, :h) ON CONFLICT (email_key) DO NOTHING RETURNING id"
        ),
        {
            "e": email.strip(),
            "k": email_key,
            "n": name.strip()[:120],
            "h": hash_password(password),
        },
    ).scalar()
    return None if user_id is None else int(user_id)


def sign_up(email: str, name: str, password: str, workspace_name: str) -> int:
    """Create a user, a new workspace, and make the user its admin.

    Returns:
        The new user's id.
    """
    email_key = validate_new_user(email, name, password)
    with global_connection() as conn:
        if conn.execute(
            text("SELECT 1 FROM users WHERE email_key = :k"), {"k": email_key}
        ).first():
            raise AccountError(
                "An account with this e-mail already exists. Sign in instead.", "exists"
            )
        workspace_id, slug = create_workspace(conn, workspace_name)
        user_id = insert_user(conn, email, email_key, name, password)
        if user_id is None:
            raise AccountError(
                "An account with this e-mail already exists. Sign in instead.", "exists"
            )
        conn.execute(
            text(
                "INSERT INTO memberships (workspace_id, user_id, role) VALUES (:w, :u, 'admin')"
            ),
            {"w": workspace_id, "u": user_id},
        )
        from ceramic_app.accounts.members import record_founder

        record_founder(
            conn,
            Principal(
                user_id=int(user_id),
                user_email=email.strip(),
                user_name=name.strip()[:120],
                workspace_id=workspace_id,
                workspace_slug=slug,
                workspace_name=workspace_name.strip()[:120],
                role=Role.ADMIN,
            ),
        )
    return int(user_id)


def add_member(
    workspace_id: int, email: str, name: str, password: str, role: Role
) -> int:
    """Add a user to a workspace, creating the account when it does not exist.

    For trusted setup code (tests, benchmarks, the demo): it writes no audit
    entry. Admins add members through members.add_member, which does.

    Returns:
        The user's id.
    """
    email_key = validate_new_user(email, name, password)
    with global_connection() as conn:
        user_id = conn.execute(
            text("SELECT id FROM users WHERE email_key = :k"), {"k": email_key}
        ).scalar()
        if user_id is None:
            user_id = insert_user(conn, email, email_key, name, password)
        conn.execute(
            text(
                "INSERT INTO memberships (workspace_id, user_id, role) VALUES (:w, :u, :r)"
                " ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role"
            ),
            {"w": workspace_id, "u": user_id, "r": role.value},
        )
    return int(user_id)


def authenticate(email: str, password: str) -> tuple[int, int]:
    """Check credentials; return (user_id, workspace_id of the first membership).

    Raises:
        AccountError: the same message for an unknown e-mail and a wrong password.
    """
    failure = AccountError("E-mail or password is incorrect.", "invalid")
    try:
        email_key = normalize_email(email)
    except InvalidEmail:
        verify_password(None, password)
        raise failure from None
    with global_connection() as conn:
        row = conn.execute(
            text(
                "SELECT u.id, u.password_hash, m.workspace_id FROM users u"
                " LEFT JOIN LATERAL (SELECT workspace_id FROM memberships"
                "   WHERE user_id = u.id ORDER BY created_at LIMIT 1) m ON true"
                " WHERE u.email_key = :k"
            ),
            {"k": email_key},
        ).first()
    if row is None:
        verify_password(None, password)
        raise failure
    if not verify_password(row.password_hash, password):
        raise failure
    if row.workspace_id is None:
        raise AccountError(
            "This account belongs to no workspace. Ask an admin to add you."
        )
    return int(row.id), int(row.workspace_id)


def create_session(user_id: int, workspace_id: int, user_agent: str = "") -> str:
    """Store a new session and return its token (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=get_settings().session_days)
    with global_connection() as conn:
        conn.execute(
            text(
                "INSERT INTO sessions (token_hash, user_id, workspace_id, expires_at, user_agent)"
                " VALUES (:h, :u, :w, :x, :a)"
            ),
            {
                "h": hash_token(token),
                "u": user_id,
                "w": workspace_id,
                "x": expires,
                "a": user_agent[:300],
            },
        )
    return token


def resolve_session(token: str | None) -> Principal | None:
    """Return the principal of a live session token, or None.

    The role is read from the membership on every call, so a role change or a
    removal from the workspace applies to the next request.
    """
    if not token or len(token) > 200:
        return None
    with global_connection() as conn:
        row = conn.execute(
            text(
                "SELECT s.user_id, u.email, u.name, s.workspace_id, w.slug, w.name AS wname,"
                "       m.role, s.last_seen_at"
                "  FROM sessions s"
                "  JOIN users u ON u.id = s.user_id"
                "  JOIN workspaces w ON w.id = s.workspace_id"
                "  JOIN memberships m ON m.workspace_id = s.workspace_id"
                "                    AND m.user_id = s.user_id"
                " WHERE s.token_hash = :h AND s.expires_at > now()"
            ),
            {"h": hash_token(token)},
        ).first()
        if row is None:
            return None
        if row.last_seen_at < datetime.now(UTC) - timedelta(minutes=5):
            conn.execute(
                text("UPDATE sessions SET last_seen_at = now() WHERE token_hash = :h"),
                {"h": hash_token(token)},
            )
    return Principal(
        user_id=int(row.user_id),
        user_email=row.email,
        user_name=row.name,
        workspace_id=int(row.workspace_id),
        workspace_slug=row.slug,
        workspace_name=row.wname,
        role=Role(row.role),
    )


def revoke_session(token: str | None) -> None:
    """Delete a session so that its token stops working at once."""
    if not token:
        return
    with global_connection() as conn:
        conn.execute(
            text("DELETE FROM sessions WHERE token_hash = :h"), {"h": hash_token(token)}
        )


def workspace_by_slug(slug: str) -> tuple[int, str] | None:
    """Return (id, name) of the workspace with this slug, or None."""
    with global_connection() as conn:
        row = conn.execute(
            text("SELECT id, name FROM workspaces WHERE slug = :s"), {"s": slug}
        ).first()
    return (int(row.id), row.name) if row else None


def error_message(code: str, email: str = "") -> str:
    """Return the user-facing message for an error code ("" for unknown codes)."""
    if code == "email_invalid" and email:
        try:
            normalize_email(email)
        except InvalidEmail as exc:
            return f"E-mail {email.strip()[:100]!r} is not valid: {exc}."
    return ERROR_MESSAGES.get(code, "")


def token_from_cookie_header(cookie_header: str) -> str | None:
    """Extract the session token from a raw Cookie header."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None
