"""Display helpers for the import pages: plain functions, no Reflex."""

from __future__ import annotations

from typing import Any

FIELD_TYPES = ["text", "number", "date", "boolean", "array", "json"]
DATE_FORMAT_CHOICES = ["YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY"]

# (summary key, label, Radix colour) in the order the report shows them.
SUMMARY_ORDER = [
    ("created", "Created", "green"),
    ("updated", "Updated", "blue"),
    ("merged", "Merged duplicates", "violet"),
    ("skipped", "Skipped", "gray"),
    ("rejected", "Rejected", "red"),
]


def format_bytes(size: int) -> str:
    """Format a byte count as B, KB, MB or GB (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"


def summary_cards(counts: dict[str, int]) -> list[dict[str, str]]:
    """Return the five outcome counts as cards: key, label, value, colour."""
    return [
        {
            "key": key,
            "label": label,
            "value": f"{int(counts.get(key, 0)):,}",
            "color": color,
        }
        for key, label, color in SUMMARY_ORDER
    ]


def bar_counts(
    status: str, report: dict[str, Any], records_done: int, total_records: int
) -> tuple[int, int]:
    """Return (records done, total) for the progress bar of a job in status.

    A completed import or validation pass has counted every record, so its
    report's record count is both numbers. A cancelled or failed job keeps
    the file's total, so the bar shows how far it got.
    """
    records = int(report.get("records") or 0)
    if not records:
        return records_done, total_records
    if status in ("completed", "validated"):
        return records, records
    if status in ("cancelled", "failed"):
        return records, max(total_records, records)
    return records_done, total_records


SEARCH_CATCHING_UP = "Search is catching up"


def search_note(finished_at: Any, started_at: Any, search_indexed_at: Any) -> str:
    """Return the note for an import whose profiles are not all searchable yet.

    An import that started writing and has stopped waits for its search
    refresh job; the note shows until the job sets search_indexed_at.
    """
    if finished_at is None or started_at is None or search_indexed_at is not None:
        return ""
    return SEARCH_CATCHING_UP


def error_rows(entries: list[dict[str, Any]], limit: int = 100) -> list[dict[str, str]]:
    """Return report errors or warnings as table rows of strings."""
    rows = []
    for entry in entries[:limit]:
        value = entry.get("value")
        rows.append(
            {
                "line": "" if entry.get("line") is None else str(entry["line"]),
                "column": str(entry.get("column") or ""),
                "value": "" if value is None else str(value)[:120],
                "reason": str(entry.get("reason") or entry.get("message") or ""),
            }
        )
    return rows


def column_view(column: dict[str, Any], samples: list[str]) -> dict[str, Any]:
    """Return one mapping entry with what the mapping table shows for it."""
    target = column.get("target", "skip")
    key = column.get("key", "")
    choice = f"field:{key}" if target == "field" else target
    notes = list(column.get("notes") or [])
    needs = column.get("needs_choice") or []
    return {
        "index": int(column["index"]),
        "source": str(column.get("source", "")),
        "target": target,
        "choice": choice,
        "key": key,
        "suggested_key": key,
        "label": column.get("label", ""),
        "type": column.get("type", "text"),
        "date_format": column.get("date_format") or "",
        "needs_choice": needs,
        "choice_made": False,
        "notes": " ".join(notes),
        "samples": ", ".join(s for s in samples[:3] if s)[:160],
    }
