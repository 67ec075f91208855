"""The `ceramic` console command: database upgrade, worker, file import and demo data."""

from __future__ import annotations

import csv
import json
import logging
import random
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import text

from ceramic_app.accounts import service as accounts
from ceramic_app.db import global_connection, tenant_connection
from ceramic_app.models import Role
from ceramic_app.settings import get_settings

app = typer.Typer(help="CeramicCRM Profiles administration.", no_args_is_help=True)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
member_app = typer.Typer(help="Workspace members.", no_args_is_help=True)
app.add_typer(member_app, name="member")
console = Console()
logger = logging.getLogger(__name__)

DEMO_EMAIL = "demo@example.com"
DEMO_WORKSPACE = "Demo"
DEMO_ROWS = 10_000


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database and role if missing and apply every migration."""
    from ceramic_app import migrate

    _configure_logging()
    migrate.upgrade()
    console.print("[green]Database is at the newest schema.[/green]")


@member_app.command("add")
def member_add(
    email: Annotated[str, typer.Argument(help="E-mail of the person to add.")],
    workspace: Annotated[str, typer.Option(help="Slug of the workspace.")],
    name: Annotated[str, typer.Option(help="Display name for a new account.")] = "",
    role: Annotated[str, typer.Option(help="admin, member or viewer.")] = "member",
) -> None:
    """Add a member; a new account gets a temporary password, printed once."""
    from ceramic_app.accounts import members

    principal = _system_principal(workspace)
    try:
        added = members.add_member(principal, email, name or email.split("@")[0], role)
    except members.MemberError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Added {added.email} to {workspace} as {added.role.value}.")
    if added.temporary_password:
        console.print(f"Temporary password: {added.temporary_password}")


@member_app.command("list")
def member_list(
    workspace: Annotated[str, typer.Option(help="Slug of the workspace.")],
) -> None:
    """List the members of a workspace with their roles."""
    from ceramic_app.accounts import members

    table = Table("name", "e-mail", "role", "joined")
    for member in members.list_members(_system_principal(workspace)):
        table.add_row(
            member.name, member.email, member.role.value, f"{member.joined_at:%Y-%m-%d}"
        )
    console.print(table)


@app.command()
def worker(
    burst: Annotated[
        bool, typer.Option(help="Exit once the queues are empty.")
    ] = False,
) -> None:
    """Run an RQ worker on every queue, with the periodic reconciler."""
    from workers.worker import main

    main(burst=burst)


def _configure_logging() -> None:
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _system_principal(slug: str) -> accounts.Principal:
    """Act as the workspace's first admin, as the command line runs trusted."""
    found = accounts.workspace_by_slug(slug)
    if found is None:
        raise typer.BadParameter(
            f"No workspace with slug {slug!r}.", param_hint="--workspace"
        )
    workspace_id, name = found
    with global_connection() as conn:
        row = conn.execute(
            text(
                "SELECT u.id, u.email, u.name FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.workspace_id = :ws AND m.role = 'admin' ORDER BY m.created_at LIMIT 1"
            ),
            {"ws": workspace_id},
        ).first()
    if row is None:
        raise typer.BadParameter(
            f"Workspace {slug!r} has no admin.", param_hint="--workspace"
        )
    return accounts.Principal(
        user_id=int(row.id),
        user_email=row.email,
        user_name=row.name,
        workspace_id=workspace_id,
        workspace_slug=slug,
        workspace_name=name,
        role=Role.ADMIN,
    )


def _run_job_inline(
    principal: accounts.Principal, job_id: int, dry_run: bool
) -> dict[str, Any]:
    """Run the job function a worker runs, in this process, with a progress bar.

    After a real import it also runs the worker's follow-up work, so calculated
    fields, sort indexes and search documents match an import run by an RQ
    worker. The search refresh runs here rather than in a queue, because no
    worker may be running.
    """
    import threading

    from ceramic_app.imports import service
    from ceramic_app.imports.engine import run_import, run_validation
    from ceramic_app.imports.followup import refresh_import_search, run_after_import

    if dry_run:
        service.start_validation(principal, job_id, enqueue=False)
        target = run_validation
    else:
        service.start_import(principal, job_id, enqueue=False)
        target = run_import
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["status"] = target(principal.workspace_id, job_id)
        except Exception as exc:  # noqa: BLE001 - shown to the user below
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="import")
    thread.start()
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} records"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(
            "validating" if dry_run else "importing", total=1, rate=""
        )
        while thread.is_alive():
            job = service.get_import(principal, job_id)
            total = job["total_records"] or job["records_done"] or 1
            started = job["started_at"]
            rate = ""
            if started and job["records_done"]:
                elapsed = max(time.time() - started.timestamp(), 1e-6)
                rate = f"{job['records_done'] / elapsed:,.0f} rows/s"
            progress.update(task, completed=job["records_done"], total=total, rate=rate)
            thread.join(timeout=0.5)
        job = service.get_import(principal, job_id)
        progress.update(
            task, completed=job["total_records"] or 0, total=job["total_records"] or 1
        )
    if not dry_run and outcome.get("status") in ("completed", "cancelled"):
        # The same follow-up the RQ import task runs after run_import.
        run_after_import(principal.workspace_id, job_id, refresh_search_inline=True)
    elif not dry_run:
        # A failed or rejected import may have committed batches before it stopped.
        try:
            refresh_import_search(principal.workspace_id, job_id)
        except Exception:
            # Logged so that the import's own error, raised below, stays visible.
            logger.exception("search refresh after import job %s failed", job_id)
    if "error" in outcome:
        raise outcome["error"]
    return service.get_import(principal, job_id)


def _print_report(job: dict[str, Any], dry_run: bool) -> None:
    report = (job["validation"] if dry_run else job["report"]) or {}
    summary = report.get("summary") or {}
    table = Table(title=f"Import #{job['id']} of {job['file_name']}: {job['status']}")
    for name in ("created", "updated", "merged", "skipped", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(
        *(
            f"{summary.get(n, 0):,}"
            for n in ("created", "updated", "merged", "skipped", "rejected")
        )
    )
    console.print(table)
    if job["error_message"]:
        console.print(f"[red]{job['error_message']}[/red]")
    if report.get("column_errors"):
        console.print(
            "Errors per column: "
            + ", ".join(f"{k}: {v:,}" for k, v in report["column_errors"].items())
        )
    for error in report.get("errors", [])[:10]:
        console.print(f"  line {error['line']}: {error['reason']}")
    if report.get("warning_count"):
        console.print(f"{report['warning_count']:,} warnings, for example:")
        for warning in report.get("warnings", [])[:5]:
            console.print(f"  line {warning['line']}: {warning['message']}")
    if job.get("error_file_path"):
        console.print(f"Rejected rows with line and reason: {job['error_file_path']}")


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV, TSV, JSON or JSON Lines file."
        ),
    ],
    workspace: Annotated[str, typer.Option(help="Slug of the target workspace.")],
    mapping: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help='JSON file with {"mapping": {...}, "options": {...}, "source": {...}}'
            " (source holds overrides such as delimiter or encoding); without it"
            " the proposed mapping is used.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Validate only: report what would happen.")
    ] = False,
) -> None:
    """Import a file into a workspace through the import job; exit 1 if rejected."""
    from ceramic_app.imports import service

    _configure_logging()
    logging.getLogger("ceramic_app").setLevel(logging.WARNING)
    principal = _system_principal(workspace)
    spec = json.loads(mapping.read_text()) if mapping else {}
    job = service.create_import(principal, file.name, file, spec.get("source"))
    if job["inspection"]["error"]:
        console.print(f"[red]The file is rejected: {job['inspection']['error']}[/red]")
        raise typer.Exit(1)
    source = job["inspection"]["source"]
    console.print(
        f"Read as {source['format']}, {source['encoding']}, delimiter {source['delimiter']!r},"
        f" {source['line_ending']} line endings; {len(source['headers'])} columns."
    )
    for warning in source["warnings"]:
        console.print(f"[yellow]{warning}[/yellow]")
    proposal = service.propose_mapping_for(principal, job["id"])
    chosen = spec.get("mapping") or proposal["mapping"]
    options = proposal["options"] | (spec.get("options") or {})
    problems = service.save_mapping(principal, job["id"], chosen, options)
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/red]")
        console.print(
            "The mapping is rejected; pass --mapping with a corrected mapping."
        )
        raise typer.Exit(1)
    final = _run_job_inline(principal, job["id"], dry_run)
    _print_report(final, dry_run)
    accepted = sum(final[f"{n}_count"] for n in ("created", "updated", "merged"))
    if dry_run:
        summary = (final["validation"] or {}).get("summary", {})
        accepted = sum(summary.get(n, 0) for n in ("created", "updated", "merged"))
    failed = final["status"] not in ("completed", "validated")
    if failed or (
        accepted == 0
        and (
            final["rejected_count"]
            or (final["validation"] or {}).get("summary", {}).get("rejected")
        )
    ):
        raise typer.Exit(1)


def _demo_user() -> tuple[accounts.Principal, str | None]:
    """Return the admin of the demo workspace, creating user and workspace if missing.

    Returns the principal and the new password, or None when the user existed.
    """
    query = text(
        "SELECT w.slug FROM users u JOIN memberships m ON m.user_id = u.id"
        " JOIN workspaces w ON w.id = m.workspace_id"
        " WHERE u.email_key = :e AND w.name = :w AND m.role = 'admin'"
        " ORDER BY w.id LIMIT 1"
    )
    params = {"e": DEMO_EMAIL, "w": DEMO_WORKSPACE}
    with global_connection() as conn:
        slug = conn.execute(query, params).scalar()
    password = None
    if slug is None:
        password = secrets.token_urlsafe(12)
        try:
            accounts.sign_up(DEMO_EMAIL, "Demo User", password, DEMO_WORKSPACE)
        except accounts.AccountError:
            # The user exists without a Demo workspace: give it one.
            password = None
            with global_connection() as conn:
                workspace_id, _ = accounts.create_workspace(conn, DEMO_WORKSPACE)
                conn.execute(
                    text(
                        "INSERT INTO memberships (workspace_id, user_id, role)"
                        " SELECT :ws, id, 'admin' FROM users WHERE email_key = :e"
                    ),
                    {"ws": workspace_id, "e": DEMO_EMAIL},
                )
        with global_connection() as conn:
            slug = conn.execute(query, params).scalar_one()
    return _system_principal(slug), password


def write_demo_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Write a realistic sample contact CSV with typed columns."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    first = [
        "Ana",
        "Ben",
        "Cleo",
        "Dov",
        "Eli",
        "Fay",
        "Inês",
        "Łukasz",
        "Nora",
        "Ravi",
        "Zoë",
        "Hinata",
    ]
    last = [
        "Pereira",
        "Okafor",
        "Marsh",
        "Hart",
        "Stone",
        "Lund",
        "Conceição",
        "Źródło",
        "Falk",
        "Menon",
    ]
    cities = [
        "Lisbon",
        "Lagos",
        "Leeds",
        "Graz",
        "Malmö",
        "Kochi",
        "São Paulo",
        "Łódź",
        "Tokyo",
    ]
    plans = ["free", "starter", "pro", "enterprise"]
    tags = ["newsletter", "beta", "vip", "partner", "event-2024"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "Email",
                "Custom ID",
                "First Name",
                "Last Name",
                "City",
                "Plan",
                "Lifetime Value",
                "Signup Date",
                "Newsletter Opt-In",
                "Tags",
                "Phone",
            ]
        )
        for n in range(1, rows + 1):
            writer.writerow(
                [
                    f"demo.user{n}@example.com",
                    f"D-{n:06d}",
                    rng.choice(first),
                    rng.choice(last),
                    rng.choice(cities),
                    rng.choice(plans),
                    f"{rng.uniform(0, 5000):.2f}",
                    f"20{rng.randint(18, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    rng.choice(["yes", "no"]),
                    ",".join(rng.sample(tags, rng.randint(0, 2))),
                    f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                ]
            )


@app.command()
def demo(
    rows: Annotated[
        int, typer.Option(min=10_000, help="Number of sample profiles.")
    ] = DEMO_ROWS,
) -> None:
    """Create the demo user and workspace (once) and import a sample CSV into it."""
    _configure_logging()
    logging.getLogger("ceramic_app").setLevel(logging.WARNING)
    principal, password = _demo_user()
    if password:
        console.print(
            f"Created {DEMO_EMAIL} with password [bold]{password}[/bold] (shown once)."
        )
    else:
        console.print(f"{DEMO_EMAIL} already exists; its password is unchanged.")
    folder = get_settings().data_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo-profiles.csv"
    write_demo_csv(path, rows)
    from ceramic_app.imports import service

    job = service.create_import(principal, path.name, path)
    proposal = service.propose_mapping_for(principal, job["id"])
    problems = service.save_mapping(
        principal, job["id"], proposal["mapping"], proposal["options"]
    )
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)
    final = _run_job_inline(principal, job["id"], dry_run=False)
    _print_report(final, dry_run=False)
    with tenant_connection(principal.workspace_id) as conn:
        total = conn.execute(text("SELECT count(*) FROM profiles")).scalar_one()
    console.print(
        f"The Demo workspace ({principal.workspace_slug}) holds {total:,} profiles."
    )
    if final["status"] != "completed":
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
