"""Import benchmark: the real RQ import job against a raw psql \\copy, same table.

usage: python bench/import_bench.py [--rows N ...] [--preload 1000000]
           [--updates] [--case32] [--batch-rows 50000] [--skip-copy]
           [--without-sort-indexes]
           [--index-costs ROWS] [--history-cost ROWS]

Drops and recreates its own database (ceramic_import_bench, or $BENCH_DB),
migrates it with every index of the schema, preloads a workspace with
--preload profiles (and a second one for the raw copy), builds their
sort indexes as the product does for workspaces of that size (unless
--without-sort-indexes), then for each N:

1. writes an N-row, 10-column CSV,
2. imports it into that workspace through the real job (an RQ worker
   subprocess, `python -m workers.worker`) and reports profiles/s from the
   job's start to its last commit and the work horse's peak RSS (VmHWM),
   then waits for the worker's search refresh job and reports the seconds
   from the import's end to the refresh's end (search_refresh_seconds),
3. loads the same rows with `psql \\copy` into the same table and indexes
   (another workspace of the same size) with search deferred as the import
   defers it, reports the time ratio, and times refresh_documents over the
   copied rows (copy_search_refresh_seconds).

--updates re-imports a file where every row changes a value, then the same
file again (every row a no-op). --case32 imports the 250,000-row file from
tests/data/import-cases/32_huge_file_generator.py and checks its counts.
--index-costs times a raw COPY into a copy of the table with each index
alone; --history-cost times the profile_changes insert of an update alone.
Results are printed as JSON lines and appended to $DATA_DIR/results.jsonl.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_DB", "ceramic_import_bench")
os.environ.setdefault("DATABASE_URL", f"postgresql://ceramic_app@127.0.0.1:5432/{DB}")
os.environ.setdefault(
    "DATABASE_ADMIN_URL", f"postgresql://postgres@127.0.0.1:5432/{DB}"
)
os.environ.setdefault("REDIS_NAMESPACE", "importbench")
os.environ.setdefault("DATA_DIR", "/tmp/ceramic-import-bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from ceramic_app import migrate  # noqa: E402
from ceramic_app.accounts import service as accounts  # noqa: E402
from ceramic_app.db import tenant_connection  # noqa: E402
from ceramic_app.imports import service  # noqa: E402
from ceramic_app.profiles.sort_indexes import sync_sort_indexes  # noqa: E402
from ceramic_app.search.index import refresh_documents  # noqa: E402
from ceramic_app.settings import get_settings, to_libpq_url  # noqa: E402

FIELDS = [
    ("first_name", "text"),
    ("last_name", "text"),
    ("city", "text"),
    ("plan", "text"),
    ("score", "number"),
    ("signup_date", "date"),
    ("newsletter", "boolean"),
    ("notes", "text"),
]
CITIES = ["Lisbon", "Lagos", "Leeds", "Graz", "Malmö", "Kochi", "São Paulo", "Łódź"]
PLANS = ["free", "starter", "pro", "enterprise"]
RESULTS = Path(os.environ["DATA_DIR"]) / "results.jsonl"


def log(**values) -> None:
    """Print one result as a JSON line and append it to RESULTS."""
    line = json.dumps(values, ensure_ascii=False)
    print(line, flush=True)
    with RESULTS.open("a") as handle:
        handle.write(line + "\n")


def row_values(n: int, prefix: str, variant: int) -> list[str]:
    """Return the 10 cells of contact n (variant changes score and city)."""
    rng = random.Random(n)
    return [
        f"{prefix}{n}@example.com",
        f"{prefix.upper()}-{n:09d}",
        rng.choice(["Ana", "Ben", "Cleo", "Dov", "Inês", "Zoë"]),
        f"Last{n}",
        CITIES[(n + variant) % len(CITIES)],
        PLANS[n % len(PLANS)],
        str((n * 7 + variant) % 1000),
        f"20{18 + n % 7}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "yes" if n % 2 else "no",
        f"note {n} v{variant}",
    ]


def write_csv(path: Path, rows: int, prefix: str, variant: int = 0) -> None:
    """Write the N-row, 10-column import file."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "custom_id", *(k for k, _ in FIELDS)])
        for n in range(1, rows + 1):
            writer.writerow(row_values(n, prefix, variant))


def write_copy_file(path: Path, rows: int, prefix: str, workspace_id: int) -> None:
    """Write the same rows as the profiles COPY input (what the import stores)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        for n in range(1, rows + 1):
            cells = row_values(n, prefix, 0)
            attributes = {
                "first_name": cells[2],
                "last_name": cells[3],
                "city": cells[4],
                "plan": cells[5],
                "score": int(cells[6]),
                "signup_date": cells[7],
                "newsletter": cells[8] == "yes",
                "notes": cells[9],
            }
            writer.writerow(
                [
                    workspace_id,
                    cells[0],
                    cells[0],
                    cells[1],
                    json.dumps(attributes, ensure_ascii=False),
                ]
            )


def setup() -> None:
    """Drop, create and migrate the benchmark database (it is the bench's own)."""
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)',
        ],
        check=True,
    )
    migrate.upgrade(get_settings())


def make_workspace(name: str) -> accounts.Principal:
    """Sign up a fresh admin with a fresh workspace and its custom fields."""
    email = f"bench-{name}-{time.time_ns()}@example.com"
    accounts.sign_up(email, f"Bench {name}", "correct horse battery", f"Bench {name}")
    user_id, workspace_id = accounts.authenticate(email, "correct horse battery")
    principal = accounts.resolve_session(accounts.create_session(user_id, workspace_id))
    assert principal is not None
    with tenant_connection(workspace_id) as conn:
        for position, (key, kind) in enumerate(FIELDS):
            conn.execute(
                text(
                    "INSERT INTO custom_fields (workspace_id, key, label, type, position)"
                    " VALUES (:ws, :k, :k, :t, :p)"
                ),
                {"ws": workspace_id, "k": key, "t": kind, "p": position},
            )
    return principal


def preload(principal: accounts.Principal, rows: int) -> float:
    """Fill a workspace with rows profiles through SQL (every index maintained)."""
    started = time.monotonic()
    step = 250_000
    for first in range(1, rows + 1, step):
        last = min(first + step - 1, rows)
        with tenant_connection(principal.workspace_id) as conn:
            conn.execute(
                text(
                    "INSERT INTO profiles (workspace_id, email, email_key, custom_id, attributes)"
                    " SELECT :ws, 'pre' || n || '@example.com', 'pre' || n || '@example.com',"
                    "  'PRE-' || lpad(n::text, 9, '0'),"
                    "  jsonb_build_object('first_name', 'Pre', 'last_name', 'Last' || n,"
                    "   'city', 'Graz', 'plan', 'free', 'score', n % 1000,"
                    "   'signup_date', '2020-01-01', 'newsletter', n % 2 = 0,"
                    "   'notes', 'preloaded ' || n)"
                    " FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) AS n"
                ),
                {"ws": principal.workspace_id, "a": first, "b": last},
            )
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(text("ANALYZE profiles"))
    return time.monotonic() - started


class Worker:
    """An RQ worker subprocess; tracks the peak RSS of its work horses."""

    def __init__(self, batch_rows: int) -> None:
        env = {
            **os.environ,
            "IMPORT_BATCH_ROWS": str(batch_rows),
            "CERAMIC_RECONCILE_SECONDS": "3600",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workers.worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(os.environ["DATA_DIR"]) / "bench-worker.log", "ab"),
            start_new_session=True,
        )
        time.sleep(1.5)

    def peak_rss_mib(self) -> float:
        """Return the largest VmHWM among the worker and its current children."""
        peak = 0
        pids = [self.proc.pid]
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
            capture_output=True,
            text=True,
        ).stdout.split()
        pids += [int(p) for p in children]
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except FileNotFoundError:
                continue
        return peak / 1024

    def stop(self) -> None:
        """Stop the worker with SIGTERM (it finishes the current job first)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def run_import(principal, path: Path, worker: Worker) -> dict:
    """Import one file through the real job; return timing, counts and peak RSS."""
    job = service.create_import(principal, path.name, path)
    proposal = service.propose_mapping_for(principal, job["id"])
    problems = service.save_mapping(
        principal, job["id"], proposal["mapping"], proposal["options"]
    )
    assert not problems, problems
    service.start_import(principal, job["id"])
    peak = 0.0
    while True:
        current = service.get_import(principal, job["id"])
        peak = max(peak, worker.peak_rss_mib())
        if current["status"] in ("completed", "failed", "rejected", "cancelled"):
            break
        time.sleep(0.2)
    assert current["status"] == "completed", current["error_message"]
    seconds = (current["finished_at"] - current["started_at"]).total_seconds()
    records = current["records_done"]
    indexed = wait_for_search_refresh(principal, job["id"])
    return {
        "job_seconds": round(seconds, 2),
        "search_refresh_seconds": round(
            (indexed - current["finished_at"]).total_seconds(), 2
        ),
        "profiles_per_second": round(records / seconds),
        "peak_rss_mib": round(peak, 1),
        "counts": {
            k: current[f"{k}_count"]
            for k in ("created", "updated", "merged", "skipped", "rejected")
        },
        "unchanged": current["report"]["counts"]["unchanged"],
        "timings_seconds": current["report"].get("timings_seconds"),
    }


def wait_for_search_refresh(principal, job_id: int) -> datetime:
    """Wait until the worker's search refresh of an import ends; return its end."""
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        indexed = service.get_import(principal, job_id)["search_indexed_at"]
        if indexed is not None:
            return indexed
        time.sleep(0.2)
    raise TimeoutError(f"search refresh of import {job_id} did not end in 1 hour")


def database_now() -> datetime:
    """Return the database server's now(), the clock profiles.updated_at uses."""
    with psycopg.connect(to_libpq_url(get_settings().database_admin_url)) as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def refresh_copied(workspace_id: int, since: datetime) -> float:
    """Time refresh_documents over the rows copied since (owner role, no RLS)."""
    with psycopg.connect(to_libpq_url(get_settings().database_admin_url)) as conn:
        started = time.monotonic()
        refresh_documents(conn, workspace_id, since)
        return time.monotonic() - started


def raw_copy(path: Path) -> float:
    """Time psql \\copy of the prepared rows into profiles (as the owner role).

    The session defers search as an import's does, so both load the same
    table and indexes and refresh the documents afterwards.
    """
    started = time.monotonic()
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            DB,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            f"\\copy profiles (workspace_id, email, email_key, custom_id, attributes) FROM '{path}' CSV",
        ],
        check=True,
        env={**os.environ, "PGOPTIONS": "-c ceramic.defer_search=on"},
    )
    return time.monotonic() - started


def index_costs(rows: int, folder: Path) -> None:
    """Time a raw COPY of rows into a copy of profiles with each index alone.

    The table starts with the primary key only; each run adds one index of
    the migration (taken from pg_indexes) and truncates between runs.
    """
    psql = [
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        DB,
        "-v",
        "ON_ERROR_STOP=1",
        "-qtA",
    ]
    subprocess.run(
        [
            *psql,
            "-c",
            "DROP TABLE IF EXISTS index_bench;"
            " CREATE TABLE index_bench (LIKE profiles INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
            " ALTER TABLE index_bench ADD PRIMARY KEY (workspace_id, id);"
            " ALTER TABLE index_bench ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;",
        ],
        check=True,
    )
    definitions = subprocess.run(
        [
            *psql,
            "-c",
            "SELECT indexname || '|' || indexdef FROM pg_indexes"
            " WHERE tablename = 'profiles' AND indexname <> 'profiles_pkey' ORDER BY 1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    path = folder / "index-bench.csv"
    write_copy_file(path, rows, "ix", 1)
    copy = f"\\copy index_bench (workspace_id, email, email_key, custom_id, attributes) FROM '{path}' CSV"
    configurations = [("primary key only", None)] + [
        tuple(line.split("|", 1)) for line in definitions if line
    ]
    configurations.append(("all indexes", "ALL"))
    baseline = None
    for name, definition in configurations:
        setup_sql = "TRUNCATE index_bench;"
        extra = (
            [d for n, d in configurations[1:-1]]
            if definition == "ALL"
            else [definition]
            if definition
            else []
        )
        created = []
        for number, statement in enumerate(extra):
            index_name = f"index_bench_{number}"
            kind, target = statement.split(" ON public.profiles ", 1)
            kind = kind.rsplit(" ", 1)[0]  # "CREATE [UNIQUE] INDEX"
            setup_sql += f" {kind} {index_name} ON public.index_bench {target};"
            created.append(index_name)
        subprocess.run([*psql, "-c", setup_sql], check=True)
        started = time.monotonic()
        subprocess.run([*psql, "-c", copy], check=True)
        seconds = time.monotonic() - started
        baseline = baseline or seconds
        log(
            event="index_cost",
            index=name,
            rows=rows,
            copy_seconds=round(seconds, 2),
            extra_seconds_over_primary_key=round(seconds - baseline, 2),
        )
        for index_name in created:
            subprocess.run([*psql, "-c", f"DROP INDEX {index_name}"], check=True)
    subprocess.run([*psql, "-c", "DROP TABLE index_bench"], check=True)
    path.unlink()


def history_cost(principal: accounts.Principal, rows: int) -> None:
    """Time the profile_changes INSERT that an update batch adds, run alone.

    Runs the same diff expression the import uses over rows stored profiles
    (inside a transaction that is rolled back), so the number is the extra
    time history adds to re-importing rows changed profiles.
    """
    keys = [k for k, _ in FIELDS]
    with tenant_connection(principal.workspace_id) as conn:
        savepoint = conn.begin_nested()
        started = time.monotonic()
        conn.execute(
            text(
                "INSERT INTO profile_changes (workspace_id, profile_id, actor_type,"
                " actor_id, actor_label, source, changes)"
                " SELECT p.workspace_id, p.id, 'import_job', 0, 'bench', 'import',"
                " (SELECT coalesce(jsonb_object_agg(k, jsonb_build_array("
                "    p.attributes -> k, n.attributes -> k)), '{}'::jsonb)"
                "    FROM unnest(CAST(:keys AS text[])) AS k"
                "   WHERE (p.attributes -> k) IS DISTINCT FROM (n.attributes -> k))"
                " FROM (SELECT * FROM profiles LIMIT :rows) p"
                " CROSS JOIN LATERAL (SELECT p.attributes || jsonb_build_object("
                "   'score', (p.attributes ->> 'score')::int + 1) AS attributes) n"
            ),
            {"keys": keys, "rows": rows},
        )
        seconds = time.monotonic() - started
        savepoint.rollback()
    log(
        event="history_cost",
        rows=rows,
        seconds=round(seconds, 2),
        rows_per_second=round(rows / seconds),
    )


def table_size() -> int:
    """Return the number of rows in profiles (all workspaces)."""
    out = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            DB,
            "-tAc",
            "SELECT count(*) FROM profiles",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def main() -> None:
    """Run the benchmarks chosen on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--preload", type=int, default=1_000_000)
    parser.add_argument(
        "--batch-rows", type=int, default=get_settings().import_batch_rows
    )
    parser.add_argument("--updates", action="store_true")
    parser.add_argument("--case32", action="store_true")
    parser.add_argument("--skip-copy", action="store_true")
    parser.add_argument("--without-sort-indexes", action="store_true")
    parser.add_argument("--index-costs", type=int, default=0, metavar="ROWS")
    parser.add_argument("--history-cost", type=int, default=0, metavar="ROWS")
    args = parser.parse_args()
    folder = Path(os.environ["DATA_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    setup()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    log(event="start", uptime=load, batch_rows=args.batch_rows, cpus=os.cpu_count())
    target = make_workspace("target")
    copy_target = make_workspace("copy")
    preload_seconds = preload(target, args.preload)
    preload(copy_target, args.preload)
    # A workspace of this size has the sort indexes of its number and date
    # fields, which every write to it maintains; both sides get them.
    sort_indexes = [
        name
        for principal in (target, copy_target)
        if not args.without_sort_indexes
        for name in sync_sort_indexes(principal.workspace_id).created
    ]
    log(
        event="preload",
        rows=args.preload,
        seconds=round(preload_seconds, 1),
        table_rows=table_size(),
        sort_indexes=sort_indexes,
    )
    if args.index_costs:
        index_costs(args.index_costs, folder)
    if args.history_cost:
        history_cost(target, args.history_cost)
    worker = Worker(args.batch_rows)
    try:
        for rows in args.rows:
            prefix = f"r{rows}x"
            path = folder / f"import-{rows}.csv"
            write_csv(path, rows, prefix)
            result = run_import(target, path, worker)
            entry = {
                "event": "import",
                "rows": rows,
                **result,
                "table_rows_after": table_size(),
            }
            if not args.skip_copy:
                copy_path = folder / f"copy-{rows}.csv"
                write_copy_file(copy_path, rows, f"c{rows}x", copy_target.workspace_id)
                copy_started = database_now()
                copy_seconds = raw_copy(copy_path)
                copy_refresh = refresh_copied(copy_target.workspace_id, copy_started)
                entry["copy_seconds"] = round(copy_seconds, 2)
                entry["copy_search_refresh_seconds"] = round(copy_refresh, 2)
                entry["copy_profiles_per_second"] = round(rows / copy_seconds)
                entry["ratio_to_copy"] = round(result["job_seconds"] / copy_seconds, 2)
                copy_path.unlink()
            log(**entry)
            if args.updates:
                changed = folder / f"update-{rows}.csv"
                write_csv(changed, rows, prefix, variant=1)
                log(
                    event="update_every_row",
                    rows=rows,
                    **run_import(target, changed, worker),
                )
                log(
                    event="update_same_file",
                    rows=rows,
                    **run_import(target, changed, worker),
                )
                changed.unlink()
            path.unlink()
        if args.case32:
            case_file = folder / "case32.csv"
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "tests/data/import-cases/32_huge_file_generator.py"),
                    str(case_file),
                ],
                check=True,
                capture_output=True,
            )
            fresh = make_workspace("case32")
            result = run_import(fresh, case_file, worker)
            expected = {
                "created": 249_975,
                "updated": 0,
                "merged": 1,
                "skipped": 0,
                "rejected": 24,
            }
            log(
                event="case32",
                **result,
                expected_counts_match=result["counts"] == expected,
            )
    finally:
        worker.stop()


if __name__ == "__main__":
    main()
