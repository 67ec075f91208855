"""Property: any bytes or CSV shape ends in a final job state with counts that add up."""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceramic_app.imports import service
from ceramic_app.imports.source import SourceError, SourceSpec, count_records
from tests.integration.imports.support import wait_for

_names = itertools.count()

CELLS = st.one_of(
    st.sampled_from(
        [
            "a@example.com",
            "A@EXAMPLE.COM ",
            "b@example.org",
            "not-an-email",
            "",
            "   ",
            "x,y",
            'say "hi"',
            "line\nbreak",
            "cr\rin",
            "nul\x00byte",
            "Zoë",
            "🚀",
            "=1+2",
            "0012",
            "1,5",
            "yes",
            "2024-01-01",
            "03/04/1990",
            '{"a": 1}',
            "[x, y]",
        ]
    ),
    st.text(max_size=8),
)
HEADERS = st.lists(
    st.sampled_from(
        ["first_name", "City", "city", "", "Tags", "custom id", "score", "notes", "x"]
    ),
    max_size=4,
)


@st.composite
def csv_files(draw) -> bytes:
    headers = ["email", *draw(HEADERS)]
    rows = draw(
        st.lists(st.lists(CELLS, min_size=0, max_size=len(headers) + 2), max_size=25)
    )
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=ending)
    writer.writerow(headers)
    writer.writerows(rows)
    text = buffer.getvalue()
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no newline at the end
    return text.encode(encoding, errors="replace")


FILES = st.one_of(
    csv_files(),
    st.binary(max_size=600),
    st.binary(max_size=300).map(lambda b: b"email,name\n" + b),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=FILES)
def test_any_file_ends_final_with_counts(principal, worker, data: bytes) -> None:
    folder = Path(tempfile.mkdtemp(prefix="prop-"))
    path = folder / f"random-{next(_names)}.csv"
    path.write_bytes(data)
    try:
        job = service.create_import(principal, path.name, path)
    except service.ImportRequestError:
        return
    if job["inspection"]["error"]:
        assert service.get_import(principal, job["id"])["status"] == "rejected"
        return
    proposal = service.propose_mapping_for(principal, job["id"])
    columns = proposal["mapping"]["columns"]
    for column in columns:
        if column["target"] == "email":
            column.update(target="skip")
    columns[0] = {"index": 0, "source": columns[0]["source"], "target": "email"}
    problems = service.save_mapping(
        principal, job["id"], proposal["mapping"], proposal["options"]
    )
    assert all(isinstance(p, str) for p in problems)
    if problems:
        return
    spec = SourceSpec.from_json(service.get_import(principal, job["id"])["source"])
    try:
        records_read = count_records(spec)  # before the run deletes a transcoded copy
    except SourceError:
        records_read = None  # the run must then end rejected
    service.start_import(principal, job["id"])
    final = wait_for(principal, job["id"], worker=worker, timeout=60)
    assert final["status"] in ("completed", "rejected"), final["error_message"]
    if final["status"] == "rejected":
        assert final["error_message"]
        return
    decided = sum(
        final[f"{name}_count"]
        for name in ("created", "updated", "merged", "skipped", "rejected")
    )
    assert decided == final["records_done"] == final["total_records"]
    assert records_read is not None
    assert decided == records_read
