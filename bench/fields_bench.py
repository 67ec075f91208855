"""Time field stats, rule checks and field jobs on a workspace of generated profiles.

Creates its own database (ceramic_bench_fields on 127.0.0.1), fills one
workspace with N profiles, prints timings and drops the database unless
--keep is given. Run: python bench/fields_bench.py --profiles 1000000
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1:5432")
DB_NAME = "ceramic_bench_fields"
os.environ["DATABASE_URL"] = f"postgresql://ceramic_app@{HOST}/{DB_NAME}"
os.environ["DATABASE_ADMIN_URL"] = f"postgresql://postgres@{HOST}/{DB_NAME}"
os.environ.setdefault("REDIS_NAMESPACE", "benchfields")

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from ceramic_app import migrate  # noqa: E402
from ceramic_app.db import get_engine, tenant_connection  # noqa: E402
from ceramic_app.fields import jobs, stats  # noqa: E402
from ceramic_app.fields.service import scan_values  # noqa: E402
from ceramic_app.settings import get_settings  # noqa: E402

logger = logging.getLogger("bench")


@contextmanager
def timed(label: str, results: dict[str, float]) -> Iterator[None]:
    """Log and store the wall-clock seconds of the block."""
    started = time.perf_counter()
    yield
    results[label] = time.perf_counter() - started
    logger.info("%-55s %8.3f s", label, results[label])


def fill(profiles: int) -> int:
    """Create a workspace with generated profiles and fields; return its id."""
    with psycopg.connect(get_settings().database_admin_url, autocommit=True) as conn:
        workspace_id = conn.execute(
            "INSERT INTO workspaces (slug, name) VALUES ('bench', 'Bench') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO custom_fields (workspace_id, key, label, type, expression) VALUES"
            " (%(ws)s, 'plan', 'Plan', 'text', NULL),"
            " (%(ws)s, 'seats', 'Seats', 'number', NULL),"
            " (%(ws)s, 'signup_date', 'Signup', 'date', NULL),"
            " (%(ws)s, 'rare', 'Rare', 'text', NULL),"
            " (%(ws)s, 'score', 'Score', 'text', NULL),"
            " (%(ws)s, 'seat_days', 'Seat days', 'number',"
            "  'seats * days_since(signup_date)')",
            {"ws": workspace_id},
        )
        # Attribute mix: plan on 30 %, seats on 50 %, signup_date on all,
        # rare on 0.01 %, score (numeric text, 1 % not numeric) on 20 %,
        # plus a few filler keys so rows have a realistic width.
        conn.execute(
            "INSERT INTO profiles (workspace_id, email, email_key, attributes)"
            " SELECT %(ws)s, 'p' || g || '@example.com', 'p' || g || '@example.com',"
            "   jsonb_strip_nulls(jsonb_build_object("
            "     'plan', CASE WHEN g %% 10 < 3 THEN 'gold' END,"
            "     'seats', CASE WHEN g %% 2 = 0 THEN g %% 50 END,"
            "     'signup_date', to_char(date '2020-01-01' + (g %% 1500), 'YYYY-MM-DD'),"
            "     'rare', CASE WHEN g %% 10000 = 7 THEN 'x' END,"
            "     'score', CASE WHEN g %% 5 = 0 THEN"
            "        CASE WHEN g %% 500 = 0 THEN 'n/a' ELSE (g %% 1000)::text END END,"
            "     'first_name', 'Name' || (g %% 997), 'city', 'City' || (g %% 101),"
            "     'note', repeat('x', 40)))"
            "   FROM generate_series(1, %(n)s) AS g",
            {"ws": workspace_id, "n": profiles},
        )
        conn.execute("VACUUM ANALYZE profiles")
    return int(workspace_id)


def field_id(workspace_id: int, key: str) -> int:
    """Return the id of the bench field with this key."""
    with tenant_connection(workspace_id) as conn:
        return int(
            conn.execute(
                text("SELECT id FROM custom_fields WHERE key = :k"), {"k": key}
            ).scalar_one()
        )


def run(profiles: int) -> dict[str, Any]:
    """Run every measurement and return the timings."""
    results: dict[str, Any] = {}
    with timed(f"fill {profiles} profiles", results):
        workspace_id = fill(profiles)
    ignore: Callable[[int, int | None], None] = lambda done, total: None  # noqa: E731
    with tenant_connection(workspace_id) as conn:
        with timed("count(*) of the workspace", results):
            conn.execute(
                text("SELECT count(*) FROM profiles WHERE workspace_id = :ws"),
                {"ws": workspace_id},
            ).scalar_one()
        for key in ("plan", "rare"):
            with timed(f"stats {key}: exact (attributes ? key)", results):
                exact = stats.measure_field(conn, workspace_id, key, exact=True)
            with timed(f"stats {key}: sampled estimate", results):
                sampled = stats.measure_field(conn, workspace_id, key)
            results[f"stats {key}"] = (
                exact.with_value,
                sampled.with_value,
                sampled.sample_rows,
            )
            logger.info(
                "  %s exact %s, estimate %s from %s rows",
                key,
                exact.with_value,
                sampled.with_value,
                sampled.sample_rows,
            )
        with timed("jsonpath @? '$.plan' count (GIN jsonb_path_ops)", results):
            conn.execute(
                text("SELECT count(*) FROM profiles WHERE attributes @? '$.plan'")
            ).scalar_one()
        with timed("containment @> plan=gold count (GIN)", results):
            conn.execute(
                text(
                    """SELECT count(*) FROM profiles WHERE attributes @> '{"plan": "gold"}'"""
                )
            ).scalar_one()
        with timed("scan_values(plan) in Python (rule or type check)", results):
            scanned = sum(1 for _ in scan_values(conn, workspace_id, "plan"))
        results["scanned"] = scanned
    with timed("recompute_field seat_days (SQL, all profiles)", results):
        results["recompute"] = jobs.recompute_field(
            workspace_id, field_id(workspace_id, "seat_days"), ignore
        )
    with timed("recompute_field seat_days again (no changes)", results):
        jobs.recompute_field(workspace_id, field_id(workspace_id, "seat_days"), ignore)
    with timed("convert_field score text -> number", results):
        results["convert"] = jobs.convert_field(
            workspace_id, field_id(workspace_id, "score"), "number", ignore
        )
    with psycopg.connect(get_settings().database_admin_url, autocommit=True) as conn:
        conn.execute("UPDATE custom_fields SET status = 'deleting' WHERE key = 'plan'")
    with timed("delete_field_values plan", results):
        results["delete"] = jobs.delete_field_values(
            workspace_id, field_id(workspace_id, "plan"), ignore
        )
    return results


def main() -> None:
    """Parse arguments, build the database, measure, clean up."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--profiles", type=int, default=1_000_000, help="profiles to generate"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database afterwards"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    maintenance = f"postgresql://postgres@{HOST}/postgres"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    migrate.upgrade(get_settings())
    try:
        results = run(args.profiles)
        results["convert"].pop("failures")
        logger.info(
            "counts: recompute %s, convert %s, delete %s",
            results["recompute"],
            results["convert"],
            results["delete"],
        )
    finally:
        get_engine().dispose()
        if not args.keep:
            with psycopg.connect(maintenance, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
