"""Let the owner role act as the app role, for imports that COPY into profiles.

PostgreSQL refuses COPY FROM into a table with row-level security for a role
the policies apply to. The import connection logs in as the owner and runs
as the app role (SET ROLE), returning to the owner only for that COPY.
SET ROLE needs membership in the app role: a superuser has it, and an owner
with CREATEROLE is granted it here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09
"""

from alembic import op
from ceramic_app.settings import get_settings

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Grant the app role to the migrating role unless it already has it."""
    role = get_settings().app_role.replace("'", "''")
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                EXECUTE format('GRANT %I TO %I', '{role}', current_user);
            END IF;
        END $$;
        """
    )


def downgrade() -> None:
    """Leave the membership: the owner already has every right the app role has."""
