"""Search documents in a side table: profile_search, kept by a trigger.

The expression GIN index profiles_search_idx made every bulk write to
profiles pay for full-text indexing: a raw COPY of 200,000 rows with every
index took 8.3 s, and 4.1 s without that one index. Nothing queries the
index yet. The document now lives in profile_search, one row per profile,
with its own GIN index. Statement-level AFTER INSERT and AFTER UPDATE
triggers on profiles upsert the documents of the changed rows in the same
transaction, so ordinary edits keep search exact. A session that sets
ceramic.defer_search to 'on' skips that work: bulk imports do, and a
follow-up job refills the documents of the rows they wrote after they
commit (ceramic_app.search.index.refresh_documents). Until it has run,
search misses or mismatches those rows. import_jobs.search_indexed_at
records when the follow-up finished, so the reconciler can queue it again
when its queue entry was lost.

profile_search_vector() stays the one definition of a document. Deleting a
profile deletes its document through the foreign key.

NOTE: PostgreSQL fills the transition tables even when the trigger function
returns at once, so a deferring writer still pays for capturing its rows.
One rough measurement: 0.3 to 0.5 s on a 2.5 s INSERT of 100,000 rows
(2 CPUs, shared with another benchmark).

The trigger function runs as the role that writes profiles, so the app role
needs the grants on profile_search and the same tenant policy as every
tenant table. Its rows carry the workspace_id of their profile, so the
policy admits them.

The backfill computes every document inside the migration's transaction,
which takes time on a large profiles table (an estimate: a minute or two
per million profiles).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from alembic import op
from ceramic_app.settings import get_settings

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE profile_search (
    workspace_id bigint NOT NULL,
    profile_id bigint NOT NULL,
    document tsvector NOT NULL,
    PRIMARY KEY (workspace_id, profile_id),
    FOREIGN KEY (workspace_id, profile_id)
        REFERENCES profiles (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX profile_search_document_idx ON profile_search USING gin (document);

-- Upserts the documents of the rows in the transition table "changed". A
-- document that is already equal is not rewritten, so updates that change
-- no searchable value cost no write here. Returns at once when the session
-- defers search: that writer must refresh the documents itself.
CREATE FUNCTION profile_search_sync()
RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp
AS $$
BEGIN
    IF current_setting('ceramic.defer_search', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO profile_search (workspace_id, profile_id, document)
    SELECT workspace_id, id, profile_search_vector(email_key, custom_id, attributes)
      FROM changed
    ON CONFLICT (workspace_id, profile_id) DO UPDATE
       SET document = EXCLUDED.document
     WHERE profile_search.document IS DISTINCT FROM EXCLUDED.document;
    RETURN NULL;
END
$$;

-- A trigger with a transition table can name one event only, hence two.
CREATE TRIGGER profile_search_insert
    AFTER INSERT ON profiles
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION profile_search_sync();
CREATE TRIGGER profile_search_update
    AFTER UPDATE ON profiles
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION profile_search_sync();

ALTER TABLE import_jobs ADD COLUMN search_indexed_at timestamptz;
CREATE INDEX import_jobs_search_pending_idx ON import_jobs (finished_at)
    WHERE search_indexed_at IS NULL AND started_at IS NOT NULL;

-- Imports that finished writing but whose search refresh has not recorded
-- its end for longer than waited. The reconciler runs under the app role,
-- which row-level security keeps inside one workspace, so this function
-- reads across workspaces with its owner's rights.
CREATE FUNCTION imports_awaiting_search(waited interval)
RETURNS TABLE (workspace_id bigint, id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT j.workspace_id, j.id FROM import_jobs j
     WHERE j.search_indexed_at IS NULL AND j.started_at IS NOT NULL
       AND j.finished_at < now() - waited
$$;

INSERT INTO profile_search (workspace_id, profile_id, document)
SELECT workspace_id, id, profile_search_vector(email_key, custom_id, attributes)
  FROM profiles;
-- The backfill above covers every import that has finished.
UPDATE import_jobs SET search_indexed_at = now() WHERE finished_at IS NOT NULL;

DROP INDEX profiles_search_idx;
"""

TENANT_TABLES = ["profile_search"]


def upgrade() -> None:
    """Create profile_search with its triggers, fill it, drop the old index."""
    role = get_settings().app_role
    op.execute(SCHEMA)
    op.execute(
        f'GRANT EXECUTE ON FUNCTION imports_awaiting_search(interval) TO "{role}"'
    )
    for table in TENANT_TABLES:
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{role}"')
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"""
            CREATE POLICY {table}_tenant ON {table}
                USING (workspace_id =
                       nullif(current_setting('app.workspace_id', true), '')::bigint)
                WITH CHECK (workspace_id =
                       nullif(current_setting('app.workspace_id', true), '')::bigint)
            """
        )


def downgrade() -> None:
    """Restore the expression index and drop what the upgrade created."""
    op.execute(
        """
        CREATE INDEX profiles_search_idx ON profiles
            USING gin (profile_search_vector(email_key, custom_id, attributes));
        DROP FUNCTION IF EXISTS imports_awaiting_search(interval);
        DROP INDEX IF EXISTS import_jobs_search_pending_idx;
        ALTER TABLE import_jobs DROP COLUMN IF EXISTS search_indexed_at;
        DROP TRIGGER IF EXISTS profile_search_update ON profiles;
        DROP TRIGGER IF EXISTS profile_search_insert ON profiles;
        DROP FUNCTION IF EXISTS profile_search_sync();
        DROP TABLE IF EXISTS profile_search;
        """
    )
