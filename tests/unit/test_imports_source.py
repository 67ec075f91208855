"""Encoding, delimiter and line-ending detection, and streaming record reading."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from ceramic_app.imports.source import (
    SourceError,
    detect_delimiter,
    detect_encoding,
    detect_line_ending,
    inspect_source,
    read_batches,
)
from ceramic_app.settings import get_settings

TEXT = "email,first_name,city\r\nines@example.com,Inês,São Brás\r\nzoe@example.org,Zoë,Malmö\r\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows(path: Path, **overrides) -> tuple[dict, list[list[str | None]], list[int]]:
    inspection = inspect_source(path, overrides, work_dir=path.parent / "work")
    spec = inspection.spec
    cells: list[list[str | None]] = []
    lines: list[int] = []
    for batch in read_batches(spec, batch_rows=2):
        columns = [f"c{i}" for i in range(len(spec.headers))]
        cells += [list(r) for r in batch.frame.select(columns).rows()]
        lines += batch.frame["__line"].to_list()
    return spec.to_json(), cells, lines


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16-le"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16-be"),
        ("utf-16-le", b"", "utf-16-le"),
        ("utf-16-be", b"", "utf-16-be"),
        ("cp1252", b"", "cp1252"),
    ],
)
def test_encodings_detected_and_decoded(tmp_path, encoding, bom, expected) -> None:
    path = write(tmp_path, "f.csv", bom + TEXT.encode(encoding))
    spec, cells, _ = rows(path)
    assert spec["encoding"] == expected
    assert spec["headers"] == ["email", "first_name", "city"]
    assert cells == [
        ["ines@example.com", "Inês", "São Brás"],
        ["zoe@example.org", "Zoë", "Malmö"],
    ]
    assert Path(spec["working_path"]).read_bytes().decode("utf-8")  # a UTF-8 copy


def test_utf16_without_bom_says_so(tmp_path) -> None:
    path = write(tmp_path, "f.csv", TEXT.encode("utf-16-le"))
    encoding, has_bom, warnings = detect_encoding(path)
    assert (encoding, has_bom) == ("utf-16-le", False)
    assert "UTF-16-LE without a byte order mark" in warnings[0]


def test_latin1_when_cp1252_undefined_bytes(tmp_path) -> None:
    data = "email,name\r\na@example.com,Zoë\x81\r\n".encode("latin-1")
    path = write(tmp_path, "f.csv", data)
    assert detect_encoding(path)[0] == "latin-1"


def test_invalid_utf8_late_in_file_detected(tmp_path) -> None:
    body = "email,name\n" + "a@example.com,plain\n" * 20_000
    data = body.encode() + "b@example.com,Ren\xe9e\n".encode("cp1252")
    path = write(tmp_path, "f.csv", data)
    spec, cells, _ = rows(path)
    assert spec["encoding"] == "cp1252"
    assert cells[-1] == ["b@example.com", "Renée"]


def test_encoding_override_wrong_choice_rejected(tmp_path) -> None:
    path = write(tmp_path, "f.csv", "email\nRen\xe9e@example.com\n".encode("cp1252"))
    with pytest.raises(SourceError, match="not valid UTF-8"):
        inspect_source(path, {"encoding": "utf-8"}, tmp_path / "w")


def test_undecodable_utf16_rejected(tmp_path) -> None:
    path = write(
        tmp_path,
        "f.csv",
        codecs.BOM_UTF16_LE + "email\n".encode("utf-16-le") + b"\x00\xd8",
    )
    with pytest.raises(SourceError, match=r"UTF-16|not valid"):
        inspect_source(path, None, tmp_path / "w")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(tmp_path, delimiter) -> None:
    text = delimiter.join(["email", "company", "city"]) + "\n"
    text += (
        delimiter.join(["a@example.com", '"Lind, Hofer; Partner | Co"', "Graz"]) + "\n"
    )
    path = write(tmp_path, "f.csv", text.encode())
    spec, cells, _ = rows(path)
    assert spec["delimiter"] == delimiter
    assert cells == [["a@example.com", "Lind, Hofer; Partner | Co", "Graz"]]


def test_semicolon_with_unquoted_commas() -> None:
    sample = "email;company;city\r\na@x.com;Lind, Hofer & Partner;Graz\r\nb@x.com;Varela, Costa, Lda;Porto\r\n"
    assert detect_delimiter(sample) == ";"


def test_single_column_defaults_to_comma() -> None:
    assert detect_delimiter("email\na@example.com\n") == ","


@pytest.mark.parametrize(
    ("ending", "name"), [("\n", "lf"), ("\r\n", "crlf"), ("\r", "cr")]
)
def test_line_endings_and_physical_lines(tmp_path, ending, name) -> None:
    lines = [
        "email,notes",
        "a@example.com,one",
        "",
        'b@example.com,"two',
        'lines"',
        "c@example.com,three",
    ]
    path = write(tmp_path, "f.csv", ending.join(lines).encode())
    spec, cells, starts = rows(path)
    assert spec["line_ending"] == name
    assert starts == [2, 3, 4, 6]
    assert cells[0] == ["a@example.com", "one"]
    assert cells[1] == ["", ""]  # blank line, skipped later as blank
    assert cells[2] == ["b@example.com", f"two{ending}lines"]
    assert cells[3] == ["c@example.com", "three"]


def test_detect_line_ending_mixed() -> None:
    assert detect_line_ending("a\r\nb\nc\rd\n") == "mixed"


def test_file_too_large_states_limit(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 10)
    path = write(tmp_path, "f.csv", b"email\na@example.com\n")
    with pytest.raises(SourceError, match="the limit is 10 bytes"):
        inspect_source(path, None, tmp_path / "w")


def test_unterminated_quote_fails_with_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "max_value_chars", 100)
    data = b'email,notes\na@example.com,"open\n' + b"x" * 2000 + b"\n"
    path = write(tmp_path, "f.csv", data)
    with pytest.raises(SourceError, match=r"line 2: .*quote left open"):
        inspect_source(path, None, tmp_path / "w")


def test_ragged_rows_warn(tmp_path) -> None:
    path = write(
        tmp_path,
        "f.csv",
        b"email,a,\nx@example.com,1,under blank\ny@example.com\nz@example.com,1,,extra\n",
    )
    inspection = inspect_source(path, None, tmp_path / "w")
    [batch] = list(read_batches(inspection.spec, batch_rows=10))
    assert [(w["line"], w["message"]) for w in batch.warnings] == [
        (2, "value 'under blank' in column 3, which has no header — ignored"),
        (4, "1 values beyond the last header column ignored ('extra')"),
    ]
    assert batch.frame["c1"].to_list() == ["1", "", "1"]


def test_json_array_nested_and_lines(tmp_path) -> None:
    records = [
        {"email": "a@example.com", "custom_fields": {"segment": "gold"}, "n": 1},
        {"email": "b@example.com", "prefs": {"x": [1, 2]}, "flag": True, "gone": None},
    ]
    path = write(tmp_path, "f.json", json.dumps(records, indent=2).encode())
    spec, cells, lines = rows(path)
    assert spec["format"] == "json"
    assert spec["headers"] == [
        "email",
        "custom_fields.segment",
        "n",
        "prefs",
        "flag",
        "gone",
    ]
    assert cells == [
        ["a@example.com", "gold", "1", None, None, None],
        ["b@example.com", None, None, '{"x":[1,2]}', "true", ""],
    ]
    assert lines == [2, 9]


def test_json_lines(tmp_path) -> None:
    path = write(
        tmp_path,
        "f.jsonl",
        b'{"email": "a@example.com"}\n\n{"email": "b@example.com", "x": 2}\n',
    )
    spec, cells, lines = rows(path)
    assert spec["format"] == "jsonl"
    assert cells == [["a@example.com", None], ["b@example.com", "2"]]
    assert lines == [1, 3]


def test_json_invalid_reports_line(tmp_path) -> None:
    path = write(
        tmp_path, "f.json", b'[\n {"email": "a@example.com"},\n {"email": }\n]'
    )
    with pytest.raises(SourceError, match="line 3: invalid JSON"):
        inspect_source(path, None, tmp_path / "w")


def test_json_large_array_streams(tmp_path) -> None:
    records = [{"email": f"u{n}@example.com", "note": "x" * 50} for n in range(30_000)]
    path = write(tmp_path, "f.json", json.dumps(records).encode())
    inspection = inspect_source(path, None, tmp_path / "w")
    total = sum(b.frame.height for b in read_batches(inspection.spec, batch_rows=7_000))
    assert total == 30_000
