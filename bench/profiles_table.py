"""Benchmark the profiles table on a generated workspace of 1M profiles.

Usage (PostgreSQL and the venv as for the tests; run on a quiet machine):

    export DATABASE_URL=postgresql://ceramic_app@127.0.0.1:5432/ceramic_bench
    export DATABASE_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/ceramic_bench
    python -m bench.profiles_table generate --rows 1000000
    python -m bench.profiles_table pages
    python -m bench.profiles_table import-cost
    python -m bench.profiles_table toggle --app-url http://127.0.0.1:3917

`pages` times queries.list_profiles (the server's time from request to rows)
for page 1 and page 1,000 under several sorts. `import-cost` times a
set-based insert of 100,000 profiles with and without a per-field sort
index. `toggle` signs in through Chromium against a running app on the same
database and records the WebSocket traffic while a column is toggled.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from ceramic_app import migrate
from ceramic_app.accounts import service as accounts
from ceramic_app.db import tenant_connection
from ceramic_app.models import Role
from ceramic_app.profiles import queries, sort_indexes
from ceramic_app.settings import get_settings, to_libpq_url

SLUG = "bench-1m"
USER_EMAIL = "bench@example.com"
USER_PASSWORD = "correct horse battery"
GENERATE_SQL = Path(__file__).with_name("generate.sql")


def _admin() -> psycopg.Connection:
    return psycopg.connect(
        to_libpq_url(get_settings().database_admin_url), autocommit=True
    )


def _workspace_id(conn: psycopg.Connection) -> int | None:
    row = conn.execute("SELECT id FROM workspaces WHERE slug = %s", (SLUG,)).fetchone()
    return None if row is None else int(row[0])


def generate(rows: int) -> None:
    """Create the benchmark workspace with rows profiles, fields and indexes."""
    migrate.upgrade()
    with _admin() as conn:
        if _workspace_id(conn) is not None:
            print(f"workspace {SLUG} exists; drop the database to generate again")
            return
    started = time.perf_counter()
    # generate.sql uses psql variables (\gset), so it is run through psql.
    subprocess.run(
        [
            "psql",
            to_libpq_url(get_settings().database_admin_url),
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"slug={SLUG}",
            "-v",
            f"rows={rows}",
            "-qf",
            str(GENERATE_SQL),
        ],
        check=True,
    )
    print(f"generated {rows:,} profiles in {time.perf_counter() - started:.1f} s")
    with _admin() as conn:
        workspace_id = _workspace_id(conn)
    assert workspace_id is not None
    accounts.add_member(
        workspace_id, USER_EMAIL, "Bench User", USER_PASSWORD, Role.ADMIN
    )
    started = time.perf_counter()
    result = sort_indexes.sync_sort_indexes(workspace_id)
    print(
        f"built sort indexes {result.created} in {time.perf_counter() - started:.1f} s"
    )
    with _admin() as conn:
        conn.execute("ANALYZE profiles")


def _principal() -> accounts.Principal:
    user_id, workspace_id = accounts.authenticate(USER_EMAIL, USER_PASSWORD)
    principal = accounts.resolve_session(accounts.create_session(user_id, workspace_id))
    assert principal is not None
    return principal


def _cursor_at(principal: accounts.Principal, sort: str, desc: bool, row: int) -> str:
    """Return the cursor after the given 0-based row, found once with OFFSET."""
    with _admin() as conn:
        conn.execute(
            "SELECT set_config('app.workspace_id', %s, false)",
            (str(principal.workspace_id),),
        )
        with tenant_connection(principal.workspace_id) as tenant:
            key = queries.find_sort_key(tenant, sort)
        direction = "DESC" if desc else "ASC"
        value, row_id = conn.execute(
            f"SELECT ({key.expression})::text, p.id FROM workspace_profiles p"
            f" WHERE p.workspace_id = {principal.workspace_id}"
            f" ORDER BY {key.expression} {direction}, p.id {direction}"
            " OFFSET %s LIMIT 1",
            (row,),
        ).fetchone()
    return queries.encode_cursor(key.column_id, value, row_id)


def _time(call: Any, repeat: int) -> tuple[float, float]:
    """Return (p50, p95) in milliseconds of repeat calls, after one warm-up."""
    call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95


def pages(repeat: int) -> None:
    """Print p50/p95 of page 1 and page 1,000 for each benchmarked sort."""
    principal = _principal()
    with _admin() as conn:
        field_ids = dict(
            conn.execute(
                "SELECT key, id FROM custom_fields WHERE workspace_id = %s",
                (principal.workspace_id,),
            ).fetchall()
        )
    score = f"field:{field_ids['score']}"
    plan = f"field:{field_ids['plan']}"
    # Text fields get no sort index, so this case shows the cost without one.
    unindexed = ("Plan (text field, no sort index), ascending", plan, False)
    cases = [
        ("Score (number field), ascending", score, False),
        ("Score (number field), descending", score, True),
        ("Updated, descending", "updated_at", True),
        ("Updated, ascending", "updated_at", False),
        ("Custom ID, ascending", "custom_id", False),
        ("Email, ascending", "email", False),
        unindexed,
    ]
    print("| Sort | Page | p50 ms | p95 ms |")
    print("| --- | --- | ---: | ---: |")
    for label, sort, desc in cases:
        cursor = _cursor_at(principal, sort, desc, 999 * queries.PAGE_SIZE - 1)
        for page_label, after in (("1", None), ("1,000", cursor)):

            def call(sort: str = sort, desc: bool = desc, after: Any = after) -> None:
                page = queries.list_profiles(
                    principal, sort=sort, descending=desc, after=after
                )
                assert len(page.rows) == queries.PAGE_SIZE

            case_repeat = min(repeat, 5) if (label, sort, desc) == unindexed else repeat
            p50, p95 = _time(call, case_repeat)
            print(f"| {label} | {page_label} | {p50:.1f} | {p95:.1f} |")


_INSERT_BATCH = """
INSERT INTO profiles (workspace_id, email, email_key, custom_id, attributes)
SELECT %(ws)s, 'imp' || n || '@example.com', 'imp' || n || '@example.com',
       'I' || n,
       jsonb_build_object('score', (hashint4(n) %% 100000) / 100.0,
                          'last_order', '2024-01-01', 'plan', 'pro')
  FROM generate_series(1, %(rows)s) AS n
"""


def import_cost(rows: int, rounds: int) -> None:
    """Print the time to insert rows profiles with 0, 1 and 2 sort indexes."""
    with _admin() as conn:
        workspace_id = int(
            conn.execute(
                "INSERT INTO workspaces (slug, name) VALUES ('bench-import', 'Import')"
                " ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id"
            ).fetchone()[0]
        )
        conn.execute(
            "DELETE FROM custom_fields WHERE workspace_id = %s", (workspace_id,)
        )
        print(
            "| Sort indexes on the workspace | Insert of 100,000 profiles, median s |"
        )
        print("| --- | ---: |")
        for index_count in (0, 1, 2):
            if index_count:
                key, field_type = [("score", "number"), ("last_order", "date")][
                    index_count - 1
                ]
                conn.execute(
                    "INSERT INTO custom_fields (workspace_id, key, label, type)"
                    " VALUES (%s, %s, %s, %s)",
                    (workspace_id, key, key, field_type),
                )
                sort_indexes.sync_sort_indexes(workspace_id)
            samples = []
            for _ in range(rounds):
                conn.execute(
                    "DELETE FROM profiles WHERE workspace_id = %s", (workspace_id,)
                )
                conn.execute("VACUUM profiles")
                started = time.perf_counter()
                conn.execute(_INSERT_BATCH, {"ws": workspace_id, "rows": rows})
                samples.append(time.perf_counter() - started)
            print(f"| {index_count} | {statistics.median(samples):.2f} |")
        conn.execute("DELETE FROM workspaces WHERE id = %s", (workspace_id,))
        sort_indexes.sync_sort_indexes(workspace_id)


def toggle(app_url: str) -> None:
    """Sign in, toggle a column and report what the server sent back."""
    from playwright.sync_api import sync_playwright

    frames: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        page = browser.new_page()
        page.on(
            "websocket",
            lambda socket: socket.on(
                "framereceived", lambda payload: frames.append(str(payload))
            ),
        )
        page.goto(f"{app_url}/login")
        page.get_by_test_id("email-input").fill(USER_EMAIL)
        page.get_by_test_id("password-input").fill(USER_PASSWORD)
        started = time.perf_counter()
        page.get_by_test_id("sign-in").click()
        page.get_by_test_id("profile-row").first.wait_for()
        print(
            f"sign-in to first rows in the browser: {time.perf_counter() - started:.2f} s"
        )
        page.wait_for_timeout(1500)
        frames.clear()
        page.get_by_test_id("columns-button").click()
        toggle_id = page.get_by_test_id("column-toggle-custom_id")
        started = time.perf_counter()
        toggle_id.click()
        page.wait_for_timeout(1500)
        page.get_by_test_id("column-toggle-custom_id").click()
        page.wait_for_timeout(1500)
        browser.close()
    deltas = [f for f in frames if "delta" in f]
    with_rows = [f for f in deltas if '"rows' in f]
    print(f"frames after two toggles: {len(frames)}, state deltas: {len(deltas)}")
    print(f"deltas that carry rows: {len(with_rows)}")
    for frame in deltas:
        print("  delta keys:", sorted(_delta_keys(frame)))


def _delta_keys(frame: str) -> set[str]:
    start = frame.find("[")
    try:
        event = json.loads(frame[start:])[1]
    except (ValueError, IndexError):
        return set()
    keys: set[str] = set()
    for state in (event.get("delta") or {}).values():
        keys.update(state)
    return keys


def main() -> None:
    """Parse the command line and run one benchmark step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    gen = steps.add_parser("generate", help="create the benchmark workspace")
    gen.add_argument("--rows", type=int, default=1_000_000, help="profiles to create")
    page = steps.add_parser("pages", help="time page 1 and page 1,000")
    page.add_argument("--repeat", type=int, default=50, help="timed calls per case")
    cost = steps.add_parser("import-cost", help="time inserts with sort indexes")
    cost.add_argument("--rows", type=int, default=100_000, help="profiles per insert")
    cost.add_argument("--rounds", type=int, default=3, help="inserts per setting")
    tog = steps.add_parser("toggle", help="record WebSocket traffic of a toggle")
    tog.add_argument("--app-url", required=True, help="URL of the running app")
    args = parser.parse_args()
    if args.step == "generate":
        generate(args.rows)
    elif args.step == "pages":
        pages(args.repeat)
    elif args.step == "import-cost":
        import_cost(args.rows, args.rounds)
    else:
        toggle(args.app_url)


if __name__ == "__main__":
    main()
