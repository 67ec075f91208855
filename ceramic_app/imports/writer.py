"""Database side of one import batch: COPY new profiles, stage and upsert the rest.

Per batch, inside the caller's transaction:

0. Rows whose e-mail key no stored profile has (the reader thread looked
   them up) are checked in Polars and copied straight into profiles, as a
   raw COPY would. Imports that check a unique field rule stage them too.
1. COPY the other merged rows (one per e-mail key) into a TEMP staging table.
2. Look up the existing profiles (for classification and history).
3. Reject rows whose custom_id or unique field value belongs to another
   stored profile, and rows that leave a required field empty on create.
   Apply the mode (create only / update only) as skips.
4. One INSERT ... SELECT ... ON CONFLICT (workspace_id, email_key) DO UPDATE
   that merges attributes (stored minus cleared keys, plus the new values),
   skips rows that change nothing and, in the same statement, appends a
   profile_changes row ({"key": [before, after]}) for each updated profile.
5. Create missing tags and link them.

With write=False (the validation pass) nothing is written, and the
caller rolls the transaction back.
"""

from __future__ import annotations

import io
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from ceramic_app.db import owner_privileges
from ceramic_app.imports.mapping import FieldPlan, Plan
from ceramic_app.models import FieldType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """The author that profile_changes rows name for an update."""

    job_id: int
    label: str


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to timings[name] (seconds)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def _typed_value(field: FieldPlan) -> sql.Composable:
    """SQL turning the staged canonical text of a field into a jsonb value."""
    column = sql.Identifier(f"v_{field.key}")
    if field.type is FieldType.NUMBER:
        return sql.SQL("to_jsonb({}::numeric)").format(column)
    if field.type is FieldType.BOOLEAN:
        return sql.SQL("to_jsonb({}::boolean)").format(column)
    if field.type in (FieldType.ARRAY, FieldType.JSON):
        return sql.SQL("{}::jsonb").format(column)
    return sql.SQL("to_jsonb({})").format(column)


def _cast_param(field: FieldPlan) -> str:
    """SQL for the jsonb form of the unnested text value v.value."""
    if field.type is FieldType.NUMBER:
        return "to_jsonb(v.value::numeric)"
    if field.type is FieldType.BOOLEAN:
        return "to_jsonb(v.value::boolean)"
    return "to_jsonb(v.value)"


def _merged_attributes(alias: str = "") -> str:
    """SQL for a staged row's attributes after the import, from the looked-up ones."""
    return f"(({alias}old_attributes - {alias}clear_keys) || {alias}set_attrs)"


def _merged_custom_id(alias: str = "") -> str:
    """SQL for a staged row's custom_id after the import."""
    return (
        f"(CASE WHEN {alias}cid_clear THEN NULL"
        f" ELSE coalesce({alias}custom_id, {alias}old_custom_id) END)"
    )


def _changed(alias: str = "") -> str:
    """SQL that is true when a staged existing profile would change."""
    return (
        f"({_merged_attributes(alias)} IS DISTINCT FROM {alias}old_attributes"
        f" OR {_merged_custom_id(alias)} IS DISTINCT FROM {alias}old_custom_id)"
    )


# One index probe per key. "email_key = ANY(array)" instead lets the planner
# scan the whole workspace when its statistics are stale, as they are
# during a large import (1 s per 50,000 keys in a 2M-profile workspace).
_STORED_KEYS_SQL = (
    "SELECT v.key FROM unnest(%s::text[]) AS v(key)"
    " WHERE EXISTS (SELECT 1 FROM profiles p"
    "  WHERE p.workspace_id = %s AND p.email_key = v.key)"
)


def stored_holders(
    conn: psycopg.Connection, workspace_id: int, plan: Plan, records: pl.DataFrame
) -> dict[str, dict[str, tuple[str, str]]]:
    """Find stored profiles holding the batch's custom_ids and unique values.

    Returns {"__cid" or "v_<key>": {value: (email_key, email)}} so that
    in-file conflict checks let a stored owner win over the file. The
    import runs this on the reader thread's own connection. A custom_id or
    unique value stored after this read is still caught by the staging
    check before the upsert.
    """
    holders: dict[str, dict[str, tuple[str, str]]] = {}
    ok = records.filter(pl.col("__status") == "ok")
    if plan.custom_id_index is not None:
        values = ok["__cid"].drop_nulls().unique().to_list()
        if values:
            with conn.cursor(row_factory=tuple_row) as cursor:
                rows = cursor.execute(
                    # LATERAL ... LIMIT 1 keeps one index probe per value,
                    # even with stale statistics (see _STORED_KEYS_SQL).
                    "SELECT v.value, p.email_key, p.email"
                    " FROM unnest(%s::text[]) AS v(value)"
                    " CROSS JOIN LATERAL (SELECT email_key, email FROM profiles"
                    "  WHERE workspace_id = %s AND custom_id = v.value LIMIT 1) p",
                    (values, workspace_id),
                ).fetchall()
            holders["__cid"] = {r[0]: (r[1], r[2]) for r in rows}
    for field in plan.fields:
        if not field.rules.get("unique") or field.is_new:
            continue
        if field.type in (FieldType.ARRAY, FieldType.JSON):
            continue  # compared as jsonb by the staging check instead
        values = ok[f"v_{field.key}"].drop_nulls().unique().to_list()
        if not values:
            continue
        with conn.cursor(row_factory=tuple_row) as cursor:
            rows = cursor.execute(
                "SELECT p.attributes ->> %(key)s, p.email_key, p.email"
                " FROM unnest(%(values)s::text[]) AS v(value)"
                " JOIN profiles p ON p.workspace_id = %(ws)s"
                "  AND p.attributes @> jsonb_build_object(%(key)s::text,"
                f"  {_cast_param(field)})",
                {"key": field.key, "values": values, "ws": workspace_id},
            ).fetchall()
        holders[f"v_{field.key}"] = {r[0]: (r[1], r[2]) for r in rows}
    return holders


class BatchWriter:
    """Runs the per-batch SQL of one import on one connection."""

    def __init__(
        self,
        conn: psycopg.Connection,
        workspace_id: int,
        plan: Plan,
        actor: Actor,
        mode: str,
        write: bool,
        may_clear: bool = False,
    ) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.plan = plan
        self.actor = actor
        self.mode = mode
        self.write = write
        # Whether any cell can clear a stored value (JSON sources, or
        # empty_cells="clear"); only then does the upsert look up clear keys.
        self.may_clear = may_clear
        self.keys = [f.key for f in plan.fields]
        # Seconds per step over the whole run, reported for tuning.
        self.timings: dict[str, float] = defaultdict(float)
        # Only fields with a unique or required rule need their value as a
        # column; every other value travels inside set_attrs.
        self.checked = [
            f
            for f in plan.fields
            if f.rules.get("required") or (f.rules.get("unique") and not f.is_new)
        ]
        # New profiles skip the staging table when the batch is written,
        # may create profiles, and checks no unique field rule: attribute
        # values have no unique index to catch a value stored meanwhile.
        self.direct_create = (
            write
            and mode != "update"
            and not any(f.rules.get("unique") and not f.is_new for f in plan.fields)
        )
        self.columns = [
            "grp",
            "first_line",
            "email",
            "email_key",
            "custom_id",
            "cid_clear",
            "tags",
            "continuing",
            "set_attrs",
            "clear_keys",
            *(f"v_{f.key}" for f in self.checked),
            *(f"x_{f.key}" for f in self.checked),
        ]
        self._create_stage()

    def _create_stage(self) -> None:
        checked = [
            sql.SQL("{} text").format(sql.Identifier(f"v_{f.key}"))
            for f in self.checked
        ] + [
            sql.SQL("{} boolean").format(sql.Identifier(f"x_{f.key}"))
            for f in self.checked
        ]
        extra = sql.SQL("").join(sql.SQL(", {}").format(c) for c in checked)
        self.conn.execute("DROP TABLE IF EXISTS import_stage")
        self.conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE import_stage ("
                " grp bigint NOT NULL, first_line bigint NOT NULL, email text NOT NULL,"
                ' email_key text COLLATE "C" NOT NULL, custom_id text COLLATE "C",'
                " cid_clear boolean NOT NULL, tags jsonb, continuing boolean NOT NULL,"
                " set_attrs jsonb NOT NULL, clear_keys text[] NOT NULL{extra},"
                " existing_id bigint, profile_id bigint, old_attributes jsonb,"
                ' old_custom_id text COLLATE "C", skip text, reject text)'
                " ON COMMIT DELETE ROWS"
            ).format(extra=extra)
        )
        if self.may_clear:
            self.conn.execute("CREATE INDEX ON import_stage (email_key)")
        self.conn.commit()

    def attribute_columns(self, groups: pl.DataFrame) -> pl.DataFrame:
        """Add set_attrs (JSON object text) and clear_keys (text[] literal).

        Built in Polars from the canonical values, so the database only parses
        one jsonb per row instead of building it field by field.
        """
        pairs = []
        for field in self.plan.fields:
            value = pl.col(f"v_{field.key}")
            if field.type in (FieldType.TEXT, FieldType.DATE):
                encoded = (
                    pl.struct(value.alias("a"))
                    .struct.json_encode()
                    .str.strip_prefix('{"a":')
                    .str.strip_suffix("}")
                )
            elif field.type is FieldType.NUMBER:
                # JSON numbers have no leading zeros ("007" is 7).
                encoded = value.str.replace(r"^(-?)0+(\d)", "${1}${2}")
            else:
                encoded = value
            pairs.append(
                pl.when(value.is_not_null()).then(pl.lit(f'"{field.key}":') + encoded)
            )
        clears = [pl.when(pl.col(f"x_{k}")).then(pl.lit(k)) for k in self.keys]
        if pairs:
            set_attrs = (
                pl.lit("{")
                + pl.concat_str(pairs, separator=",", ignore_nulls=True)
                + pl.lit("}")
            )
            clear_keys = (
                pl.lit("{")
                + pl.concat_str(clears, separator=",", ignore_nulls=True)
                + pl.lit("}")
            )
        else:
            set_attrs = pl.lit("{}")
            clear_keys = pl.lit("{}")
        return groups.with_columns(set_attrs=set_attrs, clear_keys=clear_keys)

    def apply(
        self,
        groups: pl.DataFrame,
        recheck: bool = False,
        existing: pl.Series | None = None,
    ) -> pl.DataFrame:
        """Check and (when writing) store one batch of merged rows.

        existing contains e-mail keys known to be stored (None: stage every
        row). Rows whose key it lacks, and that no earlier batch wrote, are
        taken for new profiles: they are checked in Polars and copied
        straight into profiles. Every other row goes through the staging
        table. If a profile with one of those keys, or one of their
        custom_ids, is stored, the COPY fails on the unique index and the
        caller retries with recheck=True.

        The custom_ids were checked against stored profiles on the reader
        thread. recheck=True checks them again in this transaction and
        stages every row, for the retry after a key or custom_id stored in
        between made a write fail.

        Returns one row per group: grp, outcome ("created", "updated",
        "unchanged", "skip_existing", "skip_missing" or "rejected") and reason.
        """
        if groups.height == 0:
            return _outcome_frame([])
        with timed(self.timings, "build_json"):
            groups = self.attribute_columns(groups)
        parts = []
        if existing is not None and not recheck and self.direct_create:
            new = ~pl.col("continuing") & ~pl.col("email_key").is_in(existing.implode())
            fresh = self._required_reasons(groups.filter(new))
            groups = groups.filter(~new)
            # A required field left empty only rejects a new profile. The
            # reader may not have looked the keys up, so such rows are
            # checked here, and those that are stored go through staging.
            doubtful = fresh.filter(pl.col("reason").is_not_null())["email_key"]
            if doubtful.len():
                stored = self._stored_keys(doubtful)
                back = pl.col("email_key").is_in(stored.implode())
                groups = pl.concat([groups, fresh.filter(back).drop("reason")])
                fresh = fresh.filter(~back)
            if fresh.height:
                parts.append(self._create_fresh(fresh))
        if groups.height:
            parts.append(self._apply_staged(groups, recheck))
        return pl.concat(parts) if len(parts) > 1 else parts[0]

    def _stored_keys(self, keys: pl.Series) -> pl.Series:
        rows = self.conn.execute(
            _STORED_KEYS_SQL, (keys.to_list(), self.workspace_id)
        ).fetchall()
        return pl.Series(
            "email_key", [_row_values(row)[0] for row in rows], dtype=pl.String
        )

    def _required_reasons(self, fresh: pl.DataFrame) -> pl.DataFrame:
        """Add reason: the first required field a new profile leaves empty."""
        missing = [
            pl.when(pl.col(f"v_{f.key}").is_null()).then(
                pl.lit(f"{f.source.strip() or f.key}: a value is required")
            )
            for f in self.plan.fields
            if f.rules.get("required")
        ]
        reason = pl.coalesce(missing) if missing else pl.lit(None, dtype=pl.String)
        return fresh.with_columns(reason=reason)

    def _apply_staged(self, groups: pl.DataFrame, recheck: bool) -> pl.DataFrame:
        with timed(self.timings, "copy_stage"):
            self._copy(groups)
        with timed(self.timings, "lookup"):
            self._lookup()
        with timed(self.timings, "checks"):
            self._apply_mode()
            self._reject_conflicts(recheck)
        if self.write:
            with timed(self.timings, "upsert"):
                self._upsert()
            if self.plan.tags_index is not None:
                with timed(self.timings, "tags"):
                    pairs = self.conn.execute(
                        "SELECT profile_id, tags::text FROM import_stage"
                        " WHERE reject IS NULL AND skip IS NULL"
                        "   AND profile_id IS NOT NULL AND tags IS NOT NULL"
                    ).fetchall()
                    self._link_tags(
                        pl.DataFrame(
                            [tuple(_row_values(row)) for row in pairs],
                            schema={"id": pl.Int64, "tags": pl.String},
                            orient="row",
                        )
                    )
        rows = self.conn.execute(
            "SELECT grp,"
            " CASE WHEN reject IS NOT NULL THEN 'rejected'"
            "      WHEN skip IS NOT NULL THEN skip"
            "      WHEN existing_id IS NULL THEN 'created'"
            f"      WHEN {_changed()} THEN 'updated' ELSE 'unchanged' END AS outcome,"
            " reject AS reason FROM import_stage"
        ).fetchall()
        return _outcome_frame([tuple(_row_values(row)) for row in rows])

    def _create_fresh(self, fresh: pl.DataFrame) -> pl.DataFrame:
        """COPY new profiles into profiles and return their outcomes.

        fresh carries the reason column of _required_reasons(). Only
        direct_create imports get here, so no mode skips a new profile.
        """
        fresh = fresh.with_columns(
            outcome=pl.when(pl.col("reason").is_null())
            .then(pl.lit("created"))
            .otherwise(pl.lit("rejected"))
        )
        created = fresh.filter(pl.col("outcome") == "created")
        if created.height:
            with timed(self.timings, "copy_profiles"):
                self._copy_profiles(created)
        return fresh.select("grp", "outcome", "reason")

    def _copy_profiles(self, created: pl.DataFrame) -> None:
        columns = ["workspace_id", "email", "email_key", "custom_id", "attributes"]
        frame = created.select(
            workspace_id=pl.lit(self.workspace_id, dtype=pl.Int64),
            email=pl.col("email"),
            email_key=pl.col("email_key"),
            custom_id=pl.col("custom_id"),
            attributes=pl.col("set_attrs"),
        )
        tagged = self.plan.tags_index is not None
        if tagged:
            # COPY returns nothing, so the tags step needs the ids up front.
            ids = self.conn.execute(
                "SELECT nextval(pg_get_serial_sequence('profiles', 'id'))"
                " FROM generate_series(1, %s)",
                (created.height,),
            ).fetchall()
            frame = frame.with_columns(
                id=pl.Series([_row_values(row)[0] for row in ids], dtype=pl.Int64)
            )
            columns.append("id")
        buffer = io.BytesIO()
        frame.select(columns).write_csv(
            buffer, include_header=False, quote_style="non_numeric", null_value="\\N"
        )
        statement = sql.SQL(
            "COPY profiles ({}) FROM STDIN (FORMAT csv, NULL '\\N')"
        ).format(sql.SQL(", ").join(sql.Identifier(c) for c in columns))
        with owner_privileges(self.conn):
            with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(buffer.getbuffer())
        if tagged:
            with timed(self.timings, "tags"):
                self._link_tags(
                    frame.select("id", tags=created["tags"]).filter(
                        pl.col("tags").is_not_null()
                    )
                )

    def _copy(self, groups: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        groups.select(self.columns).write_csv(
            buffer, include_header=False, quote_style="non_numeric", null_value="\\N"
        )
        statement = sql.SQL(
            "COPY import_stage ({}) FROM STDIN (FORMAT csv, NULL '\\N')"
        ).format(sql.SQL(", ").join(sql.Identifier(c) for c in self.columns))
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(buffer.getbuffer())

    def _lookup(self) -> None:
        # One index probe per staged row (LATERAL ... LIMIT 1): a plain join
        # lets the planner hash the whole workspace, which costs more with
        # every profile stored. No row is locked here: the upsert merges
        # into the row as it is when it updates it, so a concurrent edit of
        # another field is kept, and only the history's "before" can be older.
        self.conn.execute(
            "WITH found AS ("
            " SELECT s.email_key, f.id, f.attributes, f.custom_id"
            "   FROM import_stage s"
            "   CROSS JOIN LATERAL ("
            "     SELECT p.id, p.attributes, p.custom_id FROM profiles p"
            "      WHERE p.workspace_id = %(ws)s AND p.email_key = s.email_key"
            "      LIMIT 1) f)"
            " UPDATE import_stage s SET existing_id = f.id, profile_id = f.id,"
            "   old_attributes = f.attributes, old_custom_id = f.custom_id"
            "  FROM found f WHERE f.email_key = s.email_key",
            {"ws": self.workspace_id},
        )

    def _apply_mode(self) -> None:
        # Rows continuing a profile this import already wrote (an e-mail seen
        # in an earlier batch) merge into it whatever the mode.
        if self.mode == "create":
            self.conn.execute(
                "UPDATE import_stage SET skip = 'skip_existing'"
                " WHERE existing_id IS NOT NULL AND NOT continuing"
            )
        elif self.mode == "update":
            self.conn.execute(
                "UPDATE import_stage SET skip = 'skip_missing'"
                " WHERE existing_id IS NULL AND NOT continuing"
            )

    def _reject_conflicts(self, custom_ids: bool) -> None:
        header = (
            self.plan.headers[self.plan.custom_id_index]
            if self.plan.custom_id_index is not None
            else "custom_id"
        )
        if custom_ids and self.plan.custom_id_index is not None:
            self._reject_taken_custom_ids(header)
        self._reject_taken_values()

    def _reject_taken_custom_ids(self, header: str) -> None:
        self.conn.execute(
            "WITH taken AS ("
            " SELECT s.email_key, f.email FROM import_stage s"
            " CROSS JOIN LATERAL ("
            "   SELECT p.email FROM profiles p"
            "    WHERE p.workspace_id = %(ws)s AND p.custom_id = s.custom_id"
            "      AND p.email_key <> s.email_key LIMIT 1) f"
            " WHERE s.custom_id IS NOT NULL AND s.reject IS NULL AND s.skip IS NULL)"
            " UPDATE import_stage s SET reject = format("
            "  '%%s: %%L already belongs to another profile (%%s)', %(label)s::text,"
            "  s.custom_id, t.email)"
            "  FROM taken t WHERE t.email_key = s.email_key",
            {"ws": self.workspace_id, "label": header.strip() or "custom_id"},
        )

    def _reject_taken_values(self) -> None:
        for field in self.plan.fields:
            value = sql.Identifier(f"v_{field.key}")
            if field.rules.get("unique") and not field.is_new:
                self.conn.execute(
                    sql.SQL(
                        "UPDATE import_stage s SET reject = format("
                        "  '%%s: %%L already belongs to another profile (%%s)',"
                        "  {label}::text, s.{value}, p.email)"
                        "  FROM profiles p"
                        " WHERE p.workspace_id = {ws}"
                        "   AND p.attributes @> jsonb_build_object({key}::text, {typed})"
                        "   AND p.email_key <> s.email_key AND s.{value} IS NOT NULL"
                        "   AND s.reject IS NULL AND s.skip IS NULL"
                    ).format(
                        label=sql.Literal(field.source.strip() or field.key),
                        value=value,
                        ws=sql.Literal(self.workspace_id),
                        key=sql.Literal(field.key),
                        typed=_typed_value(field),
                    )
                )
            if field.rules.get("required"):
                # A continuing row merges into the profile an earlier batch
                # created, even in a validation pass that rolled it back.
                label = field.source.strip() or field.key
                self.conn.execute(
                    sql.SQL(
                        "UPDATE import_stage SET reject = {message}"
                        " WHERE reject IS NULL AND skip IS NULL AND {value} IS NULL"
                        "   AND ((existing_id IS NULL AND NOT continuing) OR {clear})"
                    ).format(
                        message=sql.Literal(f"{label}: a value is required"),
                        value=value,
                        clear=sql.Identifier(f"x_{field.key}"),
                    )
                )

    def _upsert(self) -> None:
        if self.may_clear:
            staged = "(SELECT c.{} FROM import_stage c WHERE c.email_key = EXCLUDED.email_key)"
            clear_keys = staged.format("clear_keys")
            cid_clear = staged.format("cid_clear")
        else:
            clear_keys = "ARRAY[]::text[]"
            cid_clear = "false"
        attributes = f"((p.attributes - {clear_keys}) || EXCLUDED.attributes)"
        custom_id = (
            f"(CASE WHEN {cid_clear} THEN NULL"
            " ELSE coalesce(EXCLUDED.custom_id, p.custom_id) END)"
        )
        diff = sql.SQL(
            "(SELECT coalesce(jsonb_object_agg(k, jsonb_build_array("
            "   s.old_attributes -> k, up.attributes -> k)), '{{}}'::jsonb)"
            "   FROM unnest({keys}::text[]) AS k"
            "  WHERE (s.old_attributes -> k) IS DISTINCT FROM (up.attributes -> k))"
            " || CASE WHEN s.old_custom_id IS DISTINCT FROM up.custom_id"
            "   THEN jsonb_build_object('custom_id',"
            "     jsonb_build_array(s.old_custom_id, up.custom_id))"
            "   ELSE '{{}}'::jsonb END"
        ).format(keys=sql.Literal(self.keys))
        # Created profiles get no history row; only the tags step needs the
        # new profile ids back in the staging table.
        if self.plan.tags_index is not None:
            final = sql.SQL(
                "UPDATE import_stage s SET profile_id = up.id"
                " FROM up WHERE s.email_key = up.email_key AND up.inserted"
            )
        else:
            final = sql.SQL("SELECT 1")
        self.conn.execute(
            sql.SQL(
                "WITH up AS ("
                " INSERT INTO profiles AS p (workspace_id, email, email_key, custom_id,"
                "   attributes)"
                " SELECT {ws}, s.email, s.email_key, s.custom_id, s.set_attrs"
                "   FROM import_stage s"
                "  WHERE s.reject IS NULL AND s.skip IS NULL"
                "    AND (s.existing_id IS NULL OR {changed})"
                "  ORDER BY s.email_key"
                " ON CONFLICT (workspace_id, email_key) DO UPDATE"
                "   SET attributes = {attributes}, custom_id = {custom_id},"
                "       updated_at = now()"
                "   WHERE ({attributes}, {custom_id})"
                "     IS DISTINCT FROM (p.attributes, p.custom_id)"
                " RETURNING p.id, p.email_key, p.attributes, p.custom_id,"
                "   (p.xmax = 0) AS inserted"
                "), history AS ("
                " INSERT INTO profile_changes (workspace_id, profile_id, actor_type,"
                "   actor_id, actor_label, source, changes)"
                " SELECT {ws}, up.id, 'import_job', {job}, {label}, 'import', {diff}"
                "   FROM up JOIN import_stage s ON s.email_key = up.email_key"
                "  WHERE NOT up.inserted"
                ") {final}"
            ).format(
                ws=sql.Literal(self.workspace_id),
                job=sql.Literal(self.actor.job_id),
                label=sql.Literal(self.actor.label),
                diff=diff,
                changed=sql.SQL(_changed("s.")),
                attributes=sql.SQL(attributes),
                custom_id=sql.SQL(custom_id),
                final=final,
            )
        )

    def _link_tags(self, tagged: pl.DataFrame) -> None:
        """Create missing tags and link them; tagged has id and tags (JSON array text)."""
        pairs = (
            tagged.select("id", name=pl.col("tags").str.json_decode(pl.List(pl.String)))
            .explode("name")
            .drop_nulls()
        )
        if pairs.height == 0:
            return
        params = {
            "ws": self.workspace_id,
            "ids": pairs["id"].to_list(),
            "names": pairs["name"].to_list(),
        }
        self.conn.execute(
            "INSERT INTO tags (workspace_id, name)"
            " SELECT DISTINCT ON (lower(t.name)) %(ws)s, t.name"
            "   FROM unnest(%(names)s::text[]) AS t(name)"
            " ON CONFLICT (workspace_id, lower(name)) DO NOTHING",
            params,
        )
        self.conn.execute(
            "INSERT INTO profile_tags (workspace_id, profile_id, tag_id)"
            " SELECT DISTINCT %(ws)s, v.id, g.id"
            "   FROM unnest(%(ids)s::bigint[], %(names)s::text[]) AS v(id, name)"
            "   JOIN tags g ON g.workspace_id = %(ws)s AND lower(g.name) = lower(v.name)"
            " ON CONFLICT DO NOTHING",
            params,
        )


def _row_values(row: object) -> tuple:
    """Values of a row from a tuple or dict row factory."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)  # type: ignore[union-attr]


def _outcome_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"grp": pl.Int64, "outcome": pl.String, "reason": pl.String},
        orient="row",
    )
