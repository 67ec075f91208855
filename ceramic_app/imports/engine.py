"""Running an import (or its validation pass) over a whole file, batch by batch.

run_import() is what the RQ job calls. It takes the workspace's import lock,
a session advisory lock, so one import writes to a workspace at a time and
two imports cannot deadlock on each other's rows. It then claims the job in
one UPDATE (status queued -> running), so a second start of the same job
returns at once. Then it reads, casts, merges and writes batches. Each batch commits together
with the checkpoint (records_done, the counts and the report so far) and
the error file's length, so a worker killed at any point resumes from the
last checkpoint and ends with the same table as an uninterrupted run.

run_validation() runs the same pipeline with every transaction rolled back
and stores what would happen in import_jobs.validation.
"""

from __future__ import annotations

import csv
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from ceramic_app import audit, live
from ceramic_app.db import connect_bulk_writer, connect_raw
from ceramic_app.imports.casting import (
    MAX_SAMPLES,
    CastResult,
    cast_batch,
    column_label,
    truncate,
)
from ceramic_app.imports.classify import ImportMemory, group_batch, remember
from ceramic_app.imports.mapping import (
    FieldInfo,
    ImportOptions,
    MappingError,
    Plan,
    check_mapping,
)
from ceramic_app.imports.source import (
    RecordBatch,
    SourceError,
    SourceSpec,
    delimiter_hint,
    read_batches,
    remove_working_copy,
    split_batch,
)
from ceramic_app.imports.writer import Actor, BatchWriter, stored_holders, timed
from ceramic_app.models import FieldType, JobStatus
from ceramic_app.search.index import defer_search
from ceramic_app.settings import get_settings

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
HEARTBEAT_SECONDS = 10.0
PROGRESS_SECONDS = 0.5
ERROR_COLUMNS = ("line", "reason")
# Marks a job column to be set to the database's now().
NOW = object()
_OUTCOMES = (
    "created",
    "updated",
    "unchanged",
    "merged",
    "blank",
    "skip_existing",
    "skip_missing",
    "rejected",
)


class ImportCancelled(Exception):
    """The user asked to stop the import; committed batches stay."""


@dataclass
class Progress:
    """Counts and samples so far; stored in import_jobs.report at each checkpoint."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_OUTCOMES, 0))
    column_errors: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warning_count: int = 0
    error_file_bytes: int = 0

    @property
    def records(self) -> int:
        """Number of records decided so far."""
        return sum(self.counts.values())

    def summary(self) -> dict[str, int]:
        """Return the five summary counts that add up to the records read."""
        c = self.counts
        return {
            "created": c["created"],
            "updated": c["updated"] + c["unchanged"],
            "merged": c["merged"],
            "skipped": c["blank"] + c["skip_existing"] + c["skip_missing"],
            "rejected": c["rejected"],
        }

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form kept in the job row."""
        return {
            "counts": self.counts,
            "summary": self.summary(),
            "column_errors": self.column_errors,
            "errors": self.errors,
            "warnings": self.warnings,
            "warning_count": self.warning_count,
            "error_file_bytes": self.error_file_bytes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Progress:
        """Restore progress from a checkpoint."""
        progress = cls()
        if not data:
            return progress
        progress.counts.update(data.get("counts", {}))
        progress.column_errors = dict(data.get("column_errors", {}))
        progress.errors = list(data.get("errors", []))
        progress.warnings = list(data.get("warnings", []))
        progress.warning_count = int(data.get("warning_count", 0))
        progress.error_file_bytes = int(data.get("error_file_bytes", 0))
        return progress


@dataclass
class JobActor:
    """The actor of an audit entry that an import writes (the job or its user)."""

    workspace_id: int
    actor_id: int
    actor_label: str
    actor_type: str = "import_job"


def import_lock_key(workspace_id: int) -> str:
    """Return the text whose hash is the workspace's import advisory lock."""
    return f"ceramic-import:{int(workspace_id)}"


def error_file_path(workspace_id: int, job_id: int) -> Path:
    """Return where the rejected rows of an import are written."""
    folder = get_settings().uploads_path / str(int(workspace_id))
    return folder / f"import-{int(job_id)}-errors.csv"


def load_fields(conn: psycopg.Connection) -> list[FieldInfo]:
    """Read the workspace's custom fields (the connection is tenant-scoped)."""
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(
            "SELECT key, label, type, rules, expression, status FROM custom_fields"
            " ORDER BY position, id"
        ).fetchall()
    return [
        FieldInfo(r[0], r[1], FieldType(r[2]), r[3] or {}, r[4], r[5]) for r in rows
    ]


def _cast_batches(
    spec: SourceSpec,
    batch_rows: int,
    done: int,
    plan: Plan,
    options: ImportOptions,
    empty_clears: bool,
    workspace_id: int,
    lookups: threading.Event,
) -> Iterator[tuple[RecordBatch, CastResult, dict[str, Any] | None, pl.Series | None]]:
    """Read and cast batches, find stored owners of their values and stored keys.

    Runs on the reader thread with its own connection. Records up to done
    were committed by an earlier attempt and only feed the replay. Until
    lookups is set, the stored lookups are skipped and the batch is written
    as if none of its keys were stored (existing is NONE_STORED, see
    ImportRun._process). Once it is set, existing is None: every row of the
    batch goes through the staging table, which looks rows up itself.
    """
    with connect_raw(workspace_id) as conn:
        conn.autocommit = True
        conn.execute("SET jit = off")
        batches = _ramp_up(read_batches(spec, batch_rows), batch_rows)
        while True:
            started = time.perf_counter()
            batch = next(batches, None)
            if batch is None:
                return
            read = time.perf_counter()
            first = int(batch.frame["__record"][0])
            last = int(batch.frame["__record"][-1])
            if first <= done < last:
                batch.frame = batch.frame.filter(pl.col("__record") > done)
            cast = cast_batch(batch, plan, options, empty_clears)
            casted = time.perf_counter()
            holders = existing = None
            if last > done and lookups.is_set():
                holders = stored_holders(conn, workspace_id, plan, cast.frame)
            elif last > done:
                holders, existing = {}, NONE_STORED
            ended = time.perf_counter()
            cast.seconds = ended - started
            cast.timings = {
                "reader_read": read - started,
                "reader_cast": casted - read,
                "reader_stored_lookups": ended - casted,
            }
            yield batch, cast, holders, existing


# The stored keys a batch assumes when the reader skipped its lookups.
NONE_STORED = pl.Series("email_key", [], dtype=pl.String)

# The first batch is cut into pieces of these sizes, so that the first
# commit, and with it the first progress, comes within a second instead of
# after a whole batch. Later batches keep the full size, which writes faster.
RAMP_UP_ROWS = (2_000, 8_000, 15_000)


def _ramp_up(batches: Iterator[RecordBatch], batch_rows: int) -> Iterator[RecordBatch]:
    first = next(batches, None)
    if first is None:
        return
    yield from split_batch(first, [size for size in RAMP_UP_ROWS if size < batch_rows])
    yield from batches


def _prefetch(items: Iterator[Any]) -> Iterator[Any]:
    """Read and cast the next batch in a thread while the database writes this one.

    At most two batches wait in memory, so memory stays bounded.
    """
    batches = items
    slots: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            slots.put(exc)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class _Heartbeat:
    """Touches heartbeat_at from a thread so long batches never look stale."""

    def __init__(
        self, workspace_id: int, job_id: int, statuses: tuple[str, ...]
    ) -> None:
        self.workspace_id = workspace_id
        self.job_id = job_id
        self.statuses = list(statuses)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="import-heartbeat", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            with connect_raw(self.workspace_id) as conn:
                while not self._stop.wait(HEARTBEAT_SECONDS):
                    conn.execute(
                        "UPDATE import_jobs SET heartbeat_at = now()"
                        " WHERE workspace_id = %s AND id = %s AND status = ANY(%s)",
                        (self.workspace_id, self.job_id, self.statuses),
                    )
                    conn.commit()
        except psycopg.Error:
            logger.warning(
                "heartbeat of import job %s in workspace %s stopped",
                self.job_id,
                self.workspace_id,
                exc_info=True,
            )


class ImportRun:
    """One attempt at an import job or its validation pass."""

    def __init__(self, workspace_id: int, job_id: int, *, dry_run: bool) -> None:
        self.workspace_id = int(workspace_id)
        self.job_id = int(job_id)
        self.dry_run = dry_run
        self.settings = get_settings()
        self.conn = connect_bulk_writer(self.workspace_id)
        # The staging table of a 50,000-row batch is tens of MB; the 8 MB
        # default would spill it to disk. Only settable before first use.
        self.conn.execute("SET temp_buffers = '256MB'")
        self.conn.commit()
        self.conn.row_factory = dict_row  # type: ignore[assignment]
        self.job: dict[str, Any] = {}
        self.progress = Progress()
        self.total = 0
        self.started = time.monotonic()
        self.records_this_attempt = 0
        self.mode = "upsert"
        self.last_publish = 0.0
        self._timings: dict[str, float] = {}

    def close(self) -> None:
        """Close the connection, which also releases the advisory lock."""
        self.conn.close()

    # -- job row -----------------------------------------------------------

    def _log(self, message: str, *args: object, level: int = logging.INFO) -> None:
        logger.log(
            level,
            "import job %s workspace %s: " + message,
            self.job_id,
            self.workspace_id,
            *args,
        )

    def _update_job(self, **values: Any) -> None:
        assignments = []
        params: dict[str, Any] = {"ws": self.workspace_id, "id": self.job_id}
        for column, value in values.items():
            if value is NOW:
                assignments.append(f"{column} = now()")
                continue
            assignments.append(f"{column} = %({column})s")
            params[column] = Jsonb(value) if isinstance(value, dict) else value
        self.conn.execute(
            f"UPDATE import_jobs SET {', '.join(assignments)}"
            " WHERE workspace_id = %(ws)s AND id = %(id)s",
            params,
        )

    def _wait_for_lock(self) -> bool:
        """Wait for the workspace's import lock; False if the job went away."""
        while True:
            got = self.conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AS got",
                (import_lock_key(self.workspace_id),),
            ).fetchone()["got"]
            row = self.conn.execute(
                "UPDATE import_jobs SET heartbeat_at = now()"
                " WHERE workspace_id = %s AND id = %s RETURNING status, cancel_requested",
                (self.workspace_id, self.job_id),
            ).fetchone()
            self.conn.commit()
            if row is None or row["status"] != JobStatus.QUEUED:
                return False
            if got:
                return True
            self._log("waiting for another import in this workspace to finish")
            time.sleep(1.0)

    def _claim(self) -> bool:
        if self.dry_run:
            row = self.conn.execute(
                "UPDATE import_jobs SET heartbeat_at = now(), attempts = attempts + 1,"
                " error_message = NULL"
                " WHERE workspace_id = %s AND id = %s AND status = 'validating'"
                "   AND (heartbeat_at IS NULL"
                "        OR heartbeat_at < now() - make_interval(secs => %s))"
                " RETURNING *",
                (self.workspace_id, self.job_id, HEARTBEAT_SECONDS * 3),
            ).fetchone()
        else:
            row = self.conn.execute(
                "UPDATE import_jobs SET status = 'running', attempts = attempts + 1,"
                " started_at = coalesce(started_at, now()), heartbeat_at = now(),"
                " error_message = NULL"
                " WHERE workspace_id = %s AND id = %s AND status = 'queued'"
                " RETURNING *",
                (self.workspace_id, self.job_id),
            ).fetchone()
        self.conn.commit()
        if row is None:
            return False
        self.job = row
        return True

    # -- main flow ---------------------------------------------------------

    def run(self) -> str:
        """Run the attempt to a final or resumable state; return the status."""
        if not self.dry_run and not self._wait_for_lock():
            self._log("not queued any more; nothing to do")
            return self._current_status()
        if not self._claim():
            self._log("already started or finished elsewhere; nothing to do")
            return self._current_status()
        if self.job["attempts"] > MAX_ATTEMPTS:
            return self._fail(
                f"The import stopped {MAX_ATTEMPTS} times without finishing; it is"
                " not retried again."
            )
        self._log("attempt %s started", self.job["attempts"])
        statuses = ("validating",) if self.dry_run else ("running",)
        try:
            with _Heartbeat(self.workspace_id, self.job_id, statuses):
                return self._run_batches()
        except (SourceError, MappingError) as exc:
            self.conn.rollback()
            return self._reject(str(exc))
        except ImportCancelled:
            self.conn.rollback()
            return self._cancelled()
        except Exception as exc:
            # Marked failed at once so that the job never shows as running;
            # re-raised so that RQ records the traceback too.
            self._log("failed: %s", exc, level=logging.ERROR)
            message = f"The import failed: {type(exc).__name__}: {exc}"
            fail_job(self.workspace_id, self.job_id, message[:2000])
            raise

    def _current_status(self) -> str:
        row = self.conn.execute(
            "SELECT status FROM import_jobs WHERE workspace_id = %s AND id = %s",
            (self.workspace_id, self.job_id),
        ).fetchone()
        self.conn.commit()
        return row["status"] if row else "missing"

    def _plan(self, spec: SourceSpec, options: ImportOptions) -> Plan:
        fields = load_fields(self.conn)
        self.conn.commit()
        mapping = _adopt_created_fields(self.job["mapping"] or {}, fields)
        plan, problems = check_mapping(
            mapping,
            spec.headers,
            fields,
            options,
            delimiter_hint(spec),
        )
        if plan is None:
            raise MappingError(" ".join(problems))
        return plan

    def _create_fields(self, plan: Plan) -> None:
        """Create the mapping's new custom fields (idempotent across attempts).

        Each field created gets a field.create audit entry in the same
        transaction, with the user who started the import as the actor.
        """
        position = self.conn.execute(
            "SELECT coalesce(max(position), 0) AS p FROM custom_fields"
        ).fetchone()["p"]
        actor = None
        for offset, plan_field in enumerate(f for f in plan.fields if f.is_new):
            created = self.conn.execute(
                "INSERT INTO custom_fields (workspace_id, key, label, type, position,"
                " created_by) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (workspace_id, key) DO NOTHING"
                " RETURNING id, key, label, description, type, rules, expression,"
                " status, position",
                (
                    self.workspace_id,
                    plan_field.key,
                    plan_field.label,
                    plan_field.type.value,
                    position + offset + 1,
                    self.job["created_by"],
                ),
            ).fetchone()
            if created is None:
                # Created by an earlier attempt, which also audited it.
                continue
            actor = actor or self._field_actor()
            audit.record_raw(
                self.conn,
                actor,  # type: ignore[arg-type]
                "field.create",
                "field",
                created["id"],
                after=dict(created),
                meta={"import_job": self.job_id, "file": self.job["file_name"]},
            )
        self.conn.commit()

    def _field_actor(self) -> JobActor:
        """Return the user who started the import, or the job if that user is gone."""
        user = None
        if self.job["created_by"] is not None:
            user = self.conn.execute(
                "SELECT id, name, email FROM users WHERE id = %s",
                (self.job["created_by"],),
            ).fetchone()
        if user is None:
            return JobActor(self.workspace_id, self.job_id, self._actor_label())
        return JobActor(
            self.workspace_id,
            int(user["id"]),
            f"{user['name']} <{user['email']}>",
            actor_type="user",
        )

    def _run_batches(self) -> str:
        spec = SourceSpec.from_json(self.job["source"])
        options = ImportOptions.from_json(self.job["options"])
        plan = self._plan(spec, options)
        if not self.dry_run:
            self._create_fields(plan)
        done = 0 if self.dry_run else int(self.job["records_done"])
        if done:
            self.progress = Progress.from_json(self.job["report"])
        self.total = int(self.job["total_records"] or 0) or _estimate_records(spec)
        if not self.job["total_records"]:
            # An estimate from line breaks for progress; the exact count
            # replaces it when the run finishes.
            self._update_job(total_records=self.total)
            self.conn.commit()
        error_path = error_file_path(self.workspace_id, self.job_id)
        error_file = None if self.dry_run else self._open_error_file(error_path, spec)
        memory = ImportMemory.empty(plan)
        actor = Actor(self.job_id, self._actor_label())
        empty_clears = (
            spec.format in ("json", "jsonl") or options.empty_cells == "clear"
        )
        writer = BatchWriter(
            self.conn,
            self.workspace_id,
            plan,
            actor,
            options.mode,
            write=not self.dry_run,
            may_clear=empty_clears,
        )
        self._timings = writer.timings
        self.mode = options.mode
        self._tune_session()
        batch_rows = max(1, self.settings.import_batch_rows)
        # New profiles are copied straight into profiles, and the unique
        # indexes find stored keys for free, so an import starts without
        # lookups. The first batch that hits a stored key turns them on.
        # From then on the reader looks up stored owners and every row is
        # staged and upserted. Once most rows exist, that costs less than
        # a second index probe per row. A validation pass writes nothing,
        # and update-only or staged imports must know which rows exist
        # before writing, so those stage from the start.
        self.lookups = threading.Event()
        if not writer.direct_create:
            self.lookups.set()
        try:
            for batch, cast, holders, existing in _prefetch(
                _cast_batches(
                    spec,
                    batch_rows,
                    done,
                    plan,
                    options,
                    empty_clears,
                    self.workspace_id,
                    self.lookups,
                )
            ):
                last_record = int(batch.frame["__record"][-1])
                if last_record <= done:
                    self._replay(cast, plan, memory)
                    continue
                self._process(
                    batch,
                    cast,
                    holders or {},
                    existing,
                    plan,
                    memory,
                    writer,
                    error_file,
                )
                done = last_record
                self._after_batch(done, last_record >= self.total)
        finally:
            if error_file is not None:
                error_file.close()
        return self._finish(spec, error_path)

    def _tune_session(self) -> None:
        # GIN indexes buffer new entries in a pending list; a larger list lets
        # one batch merge its entries in bulk instead of many small flushes.
        self.conn.execute("SET gin_pending_list_limit = '16MB'")
        # JIT compiling each batch's statements costs more than it saves on
        # 50,000-row joins.
        self.conn.execute("SET jit = off")
        # A follow-up job writes the search documents after the import
        # (imports.followup): full-text indexing was about 60% of a raw COPY
        # into profiles with every index (docs/BENCHMARKS.md).
        defer_search(self.conn)
        self.conn.commit()

    def _actor_label(self) -> str:
        return f"import #{self.job_id} ({self.job['file_name']})"

    def _open_error_file(self, path: Path, spec: SourceSpec) -> Any:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+b")
        handle.seek(0, os.SEEK_END)
        if handle.tell() > self.progress.error_file_bytes:
            # Rows written by an attempt that died before its commit.
            handle.truncate(self.progress.error_file_bytes)
        if self.progress.error_file_bytes == 0:
            handle.truncate(0)
            self._write_error_rows(handle, [list(spec.headers) + list(ERROR_COLUMNS)])
            self.progress.error_file_bytes = handle.tell()
        return handle

    @staticmethod
    def _write_error_rows(handle: Any, rows: list[list[Any]]) -> None:
        text_buffer = _CsvBuffer()
        writer = csv.writer(text_buffer, lineterminator="\r\n")
        writer.writerows(rows)
        handle.write(text_buffer.value().encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())

    def _replay(self, cast: CastResult, plan: Plan, memory: ImportMemory) -> None:
        """Rebuild the cross-batch memory from a batch committed by an earlier attempt.

        In create-only and update-only mode, a record the mode skipped wrote
        nothing, and a later record with its e-mail must not merge into it.
        Such records are found by what the table contains now: a profile
        this import created (create-only) or any stored profile
        (update-only).

        NOTE: records the database rejected at that time (a custom_id of
        another stored profile) are remembered as written here, which can
        turn a later duplicate's "updated" into "merged".
        """
        grouped = group_batch(cast.frame, plan, memory)
        written = pl.col("__status") == "ok"
        if self.mode in ("create", "update"):
            keys = grouped.records.filter(written)["__key"].unique()
            written = written & pl.col("__key").is_in(
                self._written_keys(keys).implode()
            )
        records = grouped.records.with_columns(
            __outcome=pl.when(written).then(pl.lit("merged"))
        )
        remember(memory, plan, records)

    def _written_keys(self, keys: pl.Series) -> pl.Series:
        """E-mail keys whose profile this import created or updated, by mode."""
        if keys.len() == 0:
            return pl.Series("key", [], dtype=pl.String)
        if self.mode == "create":
            created_here = "p.created_at >= %s"
        else:
            created_here = "%s::timestamptz IS NOT NULL"
        rows = self.conn.execute(
            "SELECT v.key FROM unnest(%s::text[]) AS v(key)"
            " WHERE EXISTS (SELECT 1 FROM profiles p"
            "  WHERE p.workspace_id = %s AND p.email_key = v.key"
            f"   AND {created_here})",
            (keys.to_list(), self.workspace_id, self.job["started_at"]),
        ).fetchall()
        self.conn.rollback()
        return pl.Series("key", [row["key"] for row in rows], dtype=pl.String)

    def _process(
        self,
        batch: RecordBatch,
        cast: CastResult,
        holders: dict[str, Any],
        existing: pl.Series | None,
        plan: Plan,
        memory: ImportMemory,
        writer: BatchWriter,
        error_file: Any,
    ) -> None:
        timings = writer.timings
        with timed(timings, "group"):
            grouped = group_batch(cast.frame, plan, memory, holders)
        try:
            outcomes = writer.apply(grouped.groups, existing=existing)
        except psycopg.errors.UniqueViolation as exc:
            # A new profile's e-mail or custom_id is stored: the reader did
            # not look (see _run_batches), or another writer stored it after
            # the reader looked. Redo the batch with stored owners looked up
            # and every row staged and checked in this transaction, which
            # updates those profiles or rejects those rows instead.
            self.conn.rollback()
            if not self.lookups.is_set():
                self._log("batch holds stored keys; looking them up from now on")
                self.lookups.set()
            else:
                self._log("batch hit a key stored meanwhile (%s); checking again", exc)
            with timed(timings, "group"):
                holders = stored_holders(self.conn, self.workspace_id, plan, cast.frame)
                grouped = group_batch(cast.frame, plan, memory, holders)
            outcomes = writer.apply(grouped.groups, recheck=True)
        with timed(timings, "tally"):
            records = self._record_outcomes(grouped, outcomes)
            self._tally(records, cast, batch, plan)
        with timed(timings, "commit"):
            if not self.dry_run:
                self._write_errors(records, plan, error_file)
                self._checkpoint(int(batch.frame["__record"][-1]))
                self.conn.commit()
            else:
                self.conn.rollback()
        with timed(timings, "remember"):
            remember(memory, plan, records)
        for name, seconds in cast.timings.items():
            timings[name] += seconds
        self.records_this_attempt += batch.frame.height

    @staticmethod
    def _record_outcomes(grouped: Any, outcomes: pl.DataFrame) -> pl.DataFrame:
        groups = grouped.groups.select("grp", "continuing", "first_line").join(
            outcomes, on="grp", how="left"
        )
        records = grouped.records.join(
            groups.rename({"grp": "__grp"}), on="__grp", how="left"
        )
        first_of_group = pl.col("__record") == pl.col("__grp")
        outcome = (
            pl.when(pl.col("__status") == "blank")
            .then(pl.lit("blank"))
            .when(pl.col("__status") == "rejected")
            .then(pl.lit("rejected"))
            .when(pl.col("outcome") == "rejected")
            .then(pl.lit("rejected"))
            .when(pl.col("outcome").str.starts_with("skip"))
            .then(pl.col("outcome"))
            .when(pl.col("continuing") | ~first_of_group)
            .then(pl.lit("merged"))
            .otherwise(pl.col("outcome"))
        )
        return records.with_columns(
            __outcome=outcome,
            __reason=pl.coalesce(pl.col("__reason"), pl.col("reason")),
        )

    def _tally(
        self, records: pl.DataFrame, cast: Any, batch: RecordBatch, plan: Plan
    ) -> None:
        progress = self.progress
        for outcome, count in records.group_by("__outcome").len().iter_rows():
            progress.counts[outcome] = progress.counts.get(outcome, 0) + int(count)
        for column, count in cast.column_errors.items():
            progress.column_errors[column] = (
                progress.column_errors.get(column, 0) + count
            )
        # cast.errors covers the records that casting rejected. Conflicts found
        # while grouping and rows the database rejected are added here.
        cast_rejects = cast.frame.filter(pl.col("__status") == "rejected")["__record"]
        later_rejects = records.filter(
            (pl.col("__outcome") == "rejected")
            & ~pl.col("__record").is_in(cast_rejects.implode())
        )
        samples = list(cast.errors)
        for line, record, reason in later_rejects.select(
            "__line", "__record", "__reason"
        ).iter_rows():
            column = reason.split(":", 1)[0] if reason else "record"
            progress.column_errors[column] = progress.column_errors.get(column, 0) + 1
            samples.append(
                {
                    "line": line,
                    "record": record,
                    "column": column,
                    "value": None,
                    "reason": reason,
                }
            )
        # Batches arrive in line order, so sorting each batch keeps the whole
        # list in line order.
        samples.sort(key=lambda sample: sample["record"])
        room = MAX_SAMPLES - len(progress.errors)
        if room > 0:
            progress.errors.extend(samples[:room])
        warnings = list(batch.warnings)
        merged = records.filter(pl.col("__outcome") == "merged")
        email_column = column_label(plan.headers[plan.email_index], plan.email_index)
        for line, first_line, continuing, email in merged.select(
            "__line", "first_line", "continuing", f"c{plan.email_index}"
        ).iter_rows():
            where = "an earlier line" if continuing else f"line {first_line}"
            warnings.append(
                {
                    "line": line,
                    "column": email_column,
                    "value": None if email is None else truncate(email),
                    "message": f"line {line} has the same e-mail as {where}; merged",
                }
            )
        flagged = records.filter(
            pl.col("__warning").is_not_null() & (pl.col("__outcome") != "rejected")
        )
        for line, message in flagged.select("__line", "__warning").iter_rows():
            warnings.append({"line": line, "column": None, "message": message})
        warnings.sort(key=lambda warning: warning["line"])
        progress.warning_count += len(warnings)
        room = MAX_SAMPLES - len(progress.warnings)
        if room > 0:
            progress.warnings.extend(
                {**w, "message": truncate(w["message"], 300)} for w in warnings[:room]
            )

    def _write_errors(self, records: pl.DataFrame, plan: Plan, handle: Any) -> None:
        rejected = records.filter(pl.col("__outcome") == "rejected")
        if rejected.height == 0:
            return
        raw_columns = [f"c{i}" for i in range(len(plan.headers))]
        rows = [
            [("" if v is None else v) for v in row[:-2]] + [row[-2], row[-1]]
            for row in rejected.select(*raw_columns, "__line", "__reason").iter_rows()
        ]
        self._write_error_rows(handle, rows)
        self.progress.error_file_bytes = handle.tell()

    def _checkpoint(self, records_done: int) -> None:
        summary = self.progress.summary()
        row = self.conn.execute(
            "UPDATE import_jobs SET records_done = %(done)s, created_count = %(created)s,"
            " updated_count = %(updated)s, merged_count = %(merged)s,"
            " skipped_count = %(skipped)s, rejected_count = %(rejected)s,"
            " warning_count = %(warnings)s, report = %(report)s, heartbeat_at = now()"
            " WHERE workspace_id = %(ws)s AND id = %(id)s RETURNING cancel_requested",
            {
                "done": records_done,
                "warnings": self.progress.warning_count,
                "report": Jsonb(self.progress.to_json()),
                "ws": self.workspace_id,
                "id": self.job_id,
                **summary,
            },
        ).fetchone()
        self._cancel_requested = bool(row and row["cancel_requested"])

    def _after_batch(self, done: int, last: bool) -> None:
        self._publish(done, force=last)
        if not self.dry_run:
            # Open profile tables refresh their page (at most once a second).
            live.publish(self.workspace_id, "profiles.changed", source="import")
        if not self.dry_run and getattr(self, "_cancel_requested", False):
            raise ImportCancelled
        if self.dry_run:
            row = self.conn.execute(
                "SELECT cancel_requested FROM import_jobs WHERE workspace_id = %s AND id = %s",
                (self.workspace_id, self.job_id),
            ).fetchone()
            self.conn.commit()
            if row and row["cancel_requested"]:
                raise ImportCancelled

    def _publish(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_publish < PROGRESS_SECONDS:
            return
        self.last_publish = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.records_this_attempt / elapsed
        total = max(self.total, done)
        eta = (total - done) / rate if rate > 0 else None
        live.publish(
            self.workspace_id,
            "import.progress",
            job_id=self.job_id,
            status="validating" if self.dry_run else "running",
            records_done=done,
            total=total,
            rows_per_second=round(rate, 1),
            eta_seconds=None if eta is None else round(eta, 1),
            **self.progress.summary(),
        )

    # -- final states ------------------------------------------------------

    def _report(self, error_path: Path | None) -> dict[str, Any]:
        report = self.progress.to_json()
        report["records"] = self.progress.records
        report["error_file"] = (
            str(error_path) if error_path and self.progress.counts["rejected"] else None
        )
        return report

    def _finish(self, spec: SourceSpec, error_path: Path) -> str:
        records = self.progress.records
        if self.dry_run:
            self._update_job(
                status=JobStatus.VALIDATED.value,
                validation=self._report(None),
                total_records=records,
                heartbeat_at=None,
            )
            self.conn.commit()
            self._log("validated %s records", records)
            self._publish_finished(JobStatus.VALIDATED.value)
            return JobStatus.VALIDATED.value
        report = self._report(error_path)
        elapsed = time.monotonic() - self.started
        report["seconds"] = round(elapsed, 3)
        report["timings_seconds"] = {
            name: round(value, 3) for name, value in self._timings.items()
        }
        self._update_job(
            status=JobStatus.COMPLETED.value,
            report=report,
            total_records=records,
            finished_at=NOW,
            error_file_path=report["error_file"],
        )
        self._audit("import.complete", report)
        self.conn.commit()
        remove_working_copy(spec, self.job["file_path"])
        self._log(
            "completed: %s records in %.1f s (%s)",
            records,
            elapsed,
            self.progress.summary(),
        )
        self._publish_finished(JobStatus.COMPLETED.value)
        return JobStatus.COMPLETED.value

    def _audit(self, action: str, report: dict[str, Any]) -> None:
        # Written in the transaction that sets the final status, so a reader
        # that sees the job finished also sees its audit entry.
        actor = JobActor(self.workspace_id, self.job_id, self._actor_label())
        audit.record_raw(
            self.conn,
            actor,  # type: ignore[arg-type]
            action,
            "import_job",
            self.job_id,
            after=report.get("summary"),
            meta={
                "file": self.job["file_name"],
                "created_by": self.job["created_by"],
                "options": self.job["options"],
                "error_file": report.get("error_file"),
            },
        )

    def _publish_finished(self, status: str, message: str | None = None) -> None:
        live.publish(
            self.workspace_id,
            "import.finished",
            job_id=self.job_id,
            status=status,
            message=message,
            records_done=self.progress.records,
            **self.progress.summary(),
        )

    def _reject(self, message: str) -> str:
        self._log("rejected: %s", message, level=logging.WARNING)
        self._update_job(
            status=JobStatus.REJECTED.value,
            error_message=message,
            finished_at=NOW,
            heartbeat_at=None,
        )
        self.conn.commit()
        self._publish_finished(JobStatus.REJECTED.value, message)
        return JobStatus.REJECTED.value

    def _cancelled(self) -> str:
        committed = self.progress.records
        message = (
            f"Cancelled. {committed:,} records were processed before the cancel and"
            " stay imported."
            if not self.dry_run
            else "Validation cancelled."
        )
        report = self._report(error_file_path(self.workspace_id, self.job_id))
        report["message"] = message
        self._update_job(
            status=JobStatus.CANCELLED.value,
            report=report,
            error_message=message,
            finished_at=NOW,
        )
        if not self.dry_run:
            self._audit("import.cancel", report)
        self.conn.commit()
        self._log("cancelled after %s records", committed)
        self._publish_finished(JobStatus.CANCELLED.value, message)
        return JobStatus.CANCELLED.value

    def _fail(self, message: str) -> str:
        fail_job(self.workspace_id, self.job_id, message, conn=self.conn)
        return JobStatus.FAILED.value


class _CsvBuffer:
    """A minimal text sink for csv.writer."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text_value: str) -> int:
        """Collect one piece of CSV text."""
        self._parts.append(text_value)
        return len(text_value)

    def value(self) -> str:
        """Return everything written so far."""
        return "".join(self._parts)


def _adopt_created_fields(
    mapping: dict[str, Any], fields: list[FieldInfo]
) -> dict[str, Any]:
    """Map new fields that already exist with the same type to those fields.

    A resumed import finds the fields its earlier attempt created, and two
    imports of similar files may both propose the same new field. A field of
    the same key but another type stays a mapping problem.
    """
    existing = {f.key: f for f in fields}
    columns = []
    for entry in mapping.get("columns", []):
        info = existing.get(entry.get("key"))
        if (
            entry.get("target") == "new_field"
            and info is not None
            and info.type.value == (entry.get("type") or "text")
        ):
            entry = {**entry, "target": "field"}
        columns.append(entry)
    return {**mapping, "columns": columns}


def _estimate_records(spec: SourceSpec) -> int:
    """Estimate the record count from line breaks, for progress only."""
    count = 0
    with open(spec.working_path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n") or chunk.count(b"\r")
    return max(count - 1, 1) if spec.format in ("csv", "tsv") else max(count, 1)


def fail_job(
    workspace_id: int, job_id: int, message: str, conn: psycopg.Connection | None = None
) -> None:
    """Mark an import job failed with a reason, keeping what was committed."""
    own = conn is None
    conn = conn or connect_raw(workspace_id)
    try:
        row = conn.execute(
            "UPDATE import_jobs SET status = 'failed', error_message = %s,"
            " finished_at = now(), heartbeat_at = NULL"
            " WHERE workspace_id = %s AND id = %s"
            "   AND status IN ('validating', 'queued', 'running')"
            " RETURNING records_done",
            (message, workspace_id, job_id),
        ).fetchone()
        conn.commit()
    finally:
        if own:
            conn.close()
    if row is not None:
        logger.warning(
            "import job %s workspace %s failed: %s", job_id, workspace_id, message
        )
        live.publish(
            workspace_id,
            "import.finished",
            job_id=job_id,
            status="failed",
            message=message,
        )


def run_import(workspace_id: int, job_id: int) -> str:
    """Run (or resume) an import job; return its status afterwards."""
    run = ImportRun(workspace_id, job_id, dry_run=False)
    try:
        return run.run()
    finally:
        run.close()


def run_validation(workspace_id: int, job_id: int) -> str:
    """Run the validation pass of an import job; return its status afterwards."""
    run = ImportRun(workspace_id, job_id, dry_run=True)
    try:
        return run.run()
    finally:
        run.close()
