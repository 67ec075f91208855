"""The Polars CSV reader gives what the csv module gives, or hands over to it."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceramic_app.imports import source
from ceramic_app.imports.source import RecordBatch, inspect_source, split_batch


def _both(path: Path, batch_rows: int = 3) -> tuple[tuple, tuple]:
    spec = inspect_source(path, None, path.parent).spec
    fast = list(source._read_csv(spec, batch_rows, 0))
    slow = list(source._read_csv_module(spec, batch_rows, 0))
    return _flatten(fast), _flatten(slow)


def _flatten(batches: list[source.RecordBatch]) -> tuple:
    frame = pl.concat([b.frame for b in batches]) if batches else None
    rows = frame.rows() if frame is not None else []
    warnings = [w for b in batches for w in b.warnings]
    return rows, warnings


# With a bare \r the file goes to the csv module; without one, Polars reads it.
cell = st.lists(st.sampled_from([*'ab ,"é\n\t;x1', "\r\n", "🚀"]), max_size=6).map(
    "".join
)
cell_with_cr = st.lists(
    st.sampled_from([*'ab ,"é\n\r\t;x1', "\r\n", "🚀"]), max_size=6
).map("".join)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(
        st.lists(st.one_of(cell, cell_with_cr), min_size=0, max_size=4), max_size=12
    ),
    terminator=st.sampled_from(["\n", "\r\n"]),
)
def test_random_files_read_alike(
    tmp_path: Path, rows: list[list[str]], terminator: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(["email", "name", "", "city"])
    writer.writerows(rows)
    # tmp_path is shared by every example; each file gets a folder of its own.
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "random.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    fast, slow = _both(path)
    assert fast == slow


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(st.lists(cell, min_size=0, max_size=4), max_size=12),
    terminator=st.sampled_from(["\n", "\r\n"]),
    block=st.integers(min_value=1, max_value=48),
)
def test_small_blocks_read_alike(
    tmp_path: Path, monkeypatch, rows: list[list[str]], terminator: str, block: int
) -> None:
    monkeypatch.setattr(source, "POLARS_BLOCK_BYTES", block)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(["email", "name", "city"])
    writer.writerows(rows)
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "blocks.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    fast, slow = _both(path)
    assert fast == slow


def test_record_blocks_end_between_records(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    content = 'a,b\n1,"x\ny ""q"" \nz"\n2,w\n3,"\n"\n4,end'
    path.write_bytes(b"\xef\xbb\xbf" + content.encode())
    blocks = list(source._record_blocks(path, 5))
    assert b"".join(blocks) == content.encode()
    for block in blocks[:-1]:
        assert block.endswith(b"\n")
        assert block.count(b'"') % 2 == 0
    assert blocks[-1] == b"4,end"


def test_quoted_newlines_keep_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_bytes(b'a,b\r\n"x\r\ny",1\r\n\r\n"p\nq\nr",2\r\nz,3')
    fast, slow = _both(path)
    assert fast == slow
    assert [row[2] for row in fast[0]] == [2, 4, 5, 8]


def test_values_beyond_header_hand_over(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,,extra\n5,6\n")
    fast, slow = _both(path, batch_rows=1)
    assert fast == slow
    assert "2 values beyond the last header column" in fast[1][0]["message"]


def test_malformed_quotes_hand_over(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text('a,b\n1,2\n3,x"y\n"4" ,z\n')
    fast, slow = _both(path, batch_rows=1)
    assert fast == slow
    assert [row[:2] for row in fast[0]] == [("1", "2"), ("3", 'x"y'), ("4 ", "z")]


def test_blank_header_warning_same_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("email,,name\na@example.com,stray,Ann\n")
    fast, slow = _both(path)
    assert fast == slow
    assert (
        fast[1][0]["message"]
        == "value 'stray' in column 2, which has no header — ignored"
    )


def test_bare_carriage_return_detected(tmp_path: Path) -> None:
    cases = {
        b"a,b\r\nc,d\r\n": False,
        b"a,b\nc,d": False,
        b"a,b\rc,d\r": True,
        b'a,"x\ry"\n': True,
        b"a\r": True,
    }
    for content, expected in cases.items():
        path = tmp_path / "cr.csv"
        path.write_bytes(content)
        assert source._has_bare_cr(path) is expected, content


def test_bare_carriage_return_across_chunks(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(source, "CHUNK_BYTES", 4)
    path = tmp_path / "cr.csv"
    path.write_bytes(b"abc\r\ndef\r\n")
    assert source._has_bare_cr(path) is False
    path.write_bytes(b"abc\rXdef\r\n")
    assert source._has_bare_cr(path) is True


def test_batches_hold_batch_rows_records(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    lines = ["email,n"] + [f"user{n}@example.com,{n}" for n in range(1, 26)]
    path.write_text("\r\n".join(lines), encoding="utf-8")
    spec = inspect_source(path, None, path.parent).spec
    fast = [b.frame.height for b in source._read_csv(spec, 10, 0)]
    slow = [b.frame.height for b in source._read_csv_module(spec, 10, 0)]
    assert fast == [10, 10, 5]
    assert slow == [10, 10, 5]


def test_split_batch_keeps_warnings_with_records() -> None:
    frame = pl.DataFrame(
        {
            "c0": [f"r{n}" for n in range(1, 11)],
            "__line": [n + 1 for n in range(1, 11)],
            "__record": list(range(1, 11)),
        }
    )
    batch = RecordBatch(
        frame=frame,
        warnings=[{"line": 2, "message": "first"}, {"line": 9, "message": "late"}],
        problems={4: "bad record", 10: "last record"},
    )
    pieces = split_batch(batch, [2, 3])
    assert [piece.frame.height for piece in pieces] == [2, 3, 5]
    assert [piece.frame["__record"][0] for piece in pieces] == [1, 3, 6]
    assert [len(piece.warnings) for piece in pieces] == [1, 0, 1]
    assert [piece.problems for piece in pieces] == [
        {},
        {4: "bad record"},
        {10: "last record"},
    ]


def test_split_batch_smaller_than_first_size() -> None:
    frame = pl.DataFrame({"c0": ["a"], "__line": [2], "__record": [1]})
    batch = RecordBatch(frame=frame, warnings=[], problems={})
    assert split_batch(batch, [2_000, 8_000]) == [batch]


def test_text_that_starts_like_compressed_data(tmp_path: Path, monkeypatch) -> None:
    # Polars would decompress these prefixes: "x^" fails, "x\x01" reads nothing.
    monkeypatch.setattr(source, "POLARS_BLOCK_BYTES", 8)
    for name, content in {
        "zlib_header.csv": "x^y,email\n1,a@example.com\nx^2,b@example.com\n",
        "zlib_silent.csv": "x\x01,email\n1,a@example.com\nx\x012,b@example.com\n",
    }.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8", newline="")
        fast, slow = _both(path)
        assert fast == slow
        assert [row[1] for row in fast[0]] == ["a@example.com", "b@example.com"]
