"""Source inspection and streaming record reading for CSV, TSV, JSON and JSON Lines.

inspect_source() detects how a file is written (format, encoding, delimiter,
line endings), transcodes non-UTF-8 input to a UTF-8 working copy by
streaming, and returns a SourceSpec plus a preview of the first records as
they will be read. Every detected setting can be overridden.

read_batches() then streams the working copy as RecordBatch objects: the
cells of every column as text, the physical start line of each record
(header = line 1, also across quoted newlines and CR-only line endings) and
the warnings that reading raised (values under a blank header or beyond the
header width). The CSV tokenizer is Python's csv module rather than the
Polars reader because only it reports physical line numbers, accepts CR-only
line endings and exposes ragged rows instead of truncating them silently;
the batches are Polars frames from there on.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ceramic_app.settings import get_settings

logger = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "json", "jsonl")
DELIMITERS = (",", ";", "\t", "|")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252", "latin-1")
SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
# Bytes of whole records that the Polars reader parses at a time.
POLARS_BLOCK_BYTES = 16 * 1024 * 1024
PREVIEW_RECORDS = 20

# Keys whose nested object contains custom field values, as in
# {"custom_fields": {"segment": "gold"}}. Their members become dotted
# columns such as "custom_fields.segment". Other nested values stay one
# JSON column.
JSON_CONTAINER_KEYS = ("custom_fields", "attributes", "fields", "properties")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Bytes that Windows-1252 leaves undefined; a file containing them is Latin-1.
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


class SourceError(ValueError):
    """A file-level problem: nothing is imported, and the message gives the reason."""


@dataclass
class SourceSpec:
    """How to read one uploaded file; stored as JSON in import_jobs.source.

    encoding is the file's own encoding; working_path is the UTF-8 copy that
    is actually read (the original file when it already is UTF-8).
    """

    format: str
    encoding: str
    delimiter: str = ","
    quote_char: str = '"'
    line_ending: str = "lf"
    has_bom: bool = False
    headers: list[str] = field(default_factory=list)
    working_path: str = ""
    file_size: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in import_jobs.source."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceSpec:
        """Build a spec from its stored JSON form."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Inspection:
    """The result of inspect_source: detected settings and a preview of the first records."""

    spec: SourceSpec
    preview: list[list[str | None]]
    preview_lines: list[int]


@dataclass
class RecordBatch:
    """A slice of records: one text column per header plus line numbers.

    frame has columns c0..c{n-1} (String; null means the key was missing in
    a JSON record, '' an empty cell or a JSON null or ""), "__line" (physical
    start line) and "__record" (1-based record number). problems holds
    (record number, message) pairs for records that cannot be read at all.
    """

    frame: pl.DataFrame
    warnings: list[dict[str, Any]]
    problems: dict[int, str]


# ---------------------------------------------------------------------------
# Encoding


def _detect_bom(head: bytes) -> tuple[str | None, int]:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    return None, 0


def _utf16_without_bom(sample: bytes) -> str | None:
    """Guess UTF-16 from the NUL pattern: ASCII text leaves every other byte 0."""
    if len(sample) < 4:
        return None
    even = sample[0::2]
    odd = sample[1::2]
    even_nul = even.count(0) / len(even)
    odd_nul = odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _is_valid_utf8(path: Path, skip: int) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        handle.seek(skip)
        while chunk := handle.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _legacy_encoding(path: Path) -> str:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if _CP1252_UNDEFINED.intersection(chunk):
                return "latin-1"
    return "cp1252"


def detect_encoding(path: Path) -> tuple[str, bool, list[str]]:
    """Return (encoding, has_bom, warnings) for a file.

    A BOM decides. Without one, a NUL in every other byte means UTF-16, valid
    UTF-8 (checked over the whole file) means UTF-8, and anything else is
    Windows-1252, or Latin-1 when bytes undefined in Windows-1252 occur.
    """
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    bom_encoding, bom_length = _detect_bom(head)
    if bom_encoding:
        return bom_encoding, True, []
    utf16 = _utf16_without_bom(head)
    if utf16:
        return (
            utf16,
            False,
            [
                f"Every other byte is NUL, so this file looks like {utf16.upper()}"
                " without a byte order mark; it is read as such. Choose another"
                " encoding if the preview looks wrong."
            ],
        )
    if _is_valid_utf8(path, bom_length):
        return "utf-8", False, []
    legacy = _legacy_encoding(path)
    return (
        legacy,
        False,
        [
            f"The file is not valid UTF-8; it is read as {legacy}. Choose another"
            " encoding if accented letters in the preview look wrong."
        ],
    )


def transcode_to_utf8(path: Path, encoding: str, target: Path) -> None:
    """Stream a file into a UTF-8 copy (bounded memory); a BOM is dropped.

    Raises:
        SourceError: the bytes are not valid in encoding.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with path.open("rb") as src, tmp.open("wb") as dst:
            first = True
            while chunk := src.read(CHUNK_BYTES):
                text = decoder.decode(chunk)
                if first:
                    text = text.removeprefix("\ufeff")
                    first = False
                dst.write(_encode_utf8(text, offset))
                offset += len(chunk)
            dst.write(_encode_utf8(decoder.decode(b"", final=True), offset))
    except UnicodeDecodeError as exc:
        tmp.unlink(missing_ok=True)
        raise SourceError(
            f"The file is not valid {encoding} (byte {offset + exc.start}). Choose the"
            " file's encoding, or save it as 'CSV UTF-8' and upload it again."
        ) from None
    os.replace(tmp, target)


def _encode_utf8(text: str, offset: int) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(
            f"The file contains an unpaired UTF-16 surrogate near byte {offset}; it"
            " is not valid UTF-16. Save it as 'CSV UTF-8' and upload it again."
        ) from None


# ---------------------------------------------------------------------------
# Format, delimiter and line endings


def _detect_format(path: Path, text_head: str) -> str:
    suffix = path.suffix.lower()
    stripped = text_head.lstrip()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json" or stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    if suffix == ".tsv":
        return "tsv"
    return "csv"


def detect_line_ending(text: str) -> str:
    """Name the line endings of a text sample: crlf, lf, cr or mixed."""
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    kinds = [name for name, n in (("crlf", crlf), ("lf", lf), ("cr", cr)) if n]
    if not kinds:
        return "lf"
    if len(kinds) == 1:
        return kinds[0]
    counts = {"crlf": crlf, "lf": lf, "cr": cr}
    top = max(kinds, key=lambda k: counts[k])
    # A few line breaks of another kind inside quoted values are normal.
    if sum(counts[k] for k in kinds if k != top) * 10 < counts[top]:
        return top
    return "mixed"


def _field_counts(sample: str, delimiter: str) -> list[int]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    counts = []
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                counts.append(len(row))
    except csv.Error:
        return []
    return counts


def detect_delimiter(sample: str) -> str:
    """Pick the delimiter that splits the sample into the most consistent rows.

    Parsing is quote-aware, so commas inside unquoted values of a ';' file
    only make ',' inconsistent. A file with one column gets ','.
    """
    # Drop a record cut off at the end of the sample.
    cut = max(sample.rfind("\n"), sample.rfind("\r"))
    if cut > 0:
        sample = sample[:cut]
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        counts = _field_counts(sample, delimiter)
        if not counts:
            continue
        header = counts[0]
        if header < 2:
            continue
        consistent = sum(1 for c in counts if c == header) / len(counts)
        score = (consistent, header)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ---------------------------------------------------------------------------
# Inspection


def inspect_source(
    path: str | Path,
    overrides: dict[str, Any] | None = None,
    work_dir: str | Path | None = None,
) -> Inspection:
    """Detect how a file is written, prepare a UTF-8 working copy and preview it.

    overrides may set format, encoding, delimiter and quote_char; each
    replaces the detected value.

    Raises:
        SourceError: the file is too large, empty, undecodable or unparseable.
    """
    settings = get_settings()
    source_path = Path(path)
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    size = source_path.stat().st_size
    if size > settings.max_upload_bytes:
        raise SourceError(
            f"The file is {size:,} bytes; the limit is {settings.max_upload_bytes:,}"
            " bytes. Split it into smaller files."
        )
    if size == 0:
        raise SourceError("The file is empty.")
    warnings: list[str] = []
    if "encoding" in overrides:
        encoding = _check_choice("encoding", overrides["encoding"], ENCODINGS)
        with source_path.open("rb") as handle:
            has_bom = _detect_bom(handle.read(4))[0] is not None
    else:
        encoding, has_bom, warnings = detect_encoding(source_path)
    working = _working_copy(source_path, encoding, has_bom, work_dir)
    with working.open("r", encoding="utf-8", newline="", errors="replace") as handle:
        head = handle.read(SAMPLE_BYTES)
    if not head.strip():
        raise SourceError("The file has no content.")
    fmt = overrides.get("format") or _detect_format(source_path, head)
    fmt = _check_choice("format", fmt, FORMATS)
    spec = SourceSpec(
        format=fmt,
        encoding=encoding,
        has_bom=has_bom,
        line_ending=detect_line_ending(head),
        working_path=str(working),
        file_size=size,
        warnings=warnings,
    )
    if fmt in ("csv", "tsv"):
        default = "\t" if fmt == "tsv" else detect_delimiter(head)
        spec.delimiter = overrides.get("delimiter") or default
        spec.quote_char = overrides.get("quote_char") or '"'
        if len(spec.delimiter) != 1 or len(spec.quote_char) != 1:
            raise SourceError(
                "The delimiter and the quote character must be one character each."
            )
        spec.headers = _csv_headers(spec)
    else:
        spec.delimiter = ""
        spec.headers = _json_headers(spec)
    preview: list[list[str | None]] = []
    preview_lines: list[int] = []
    for batch in read_batches(spec, batch_rows=PREVIEW_RECORDS):
        columns = [f"c{i}" for i in range(len(spec.headers))]
        preview = [list(row) for row in batch.frame.select(columns).rows()]
        preview_lines = batch.frame["__line"].to_list()
        break
    return Inspection(spec=spec, preview=preview, preview_lines=preview_lines)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    normalized = str(value).lower().replace("_", "-")
    aliases = {
        "utf8": "utf-8",
        "utf-16le": "utf-16-le",
        "utf-16be": "utf-16-be",
        "windows-1252": "cp1252",
        "iso-8859-1": "latin-1",
        "latin1": "latin-1",
        "ndjson": "jsonl",
    }
    normalized = aliases.get(normalized, normalized)
    if normalized not in choices:
        raise SourceError(
            f"Unknown {name} {value!r}; choose one of {', '.join(choices)}."
        )
    return normalized


def _working_copy(
    path: Path, encoding: str, has_bom: bool, work_dir: str | Path | None
) -> Path:
    if encoding in ("utf-8", "utf-8-sig"):
        if not _is_valid_utf8(path, len(codecs.BOM_UTF8) if has_bom else 0):
            raise SourceError(
                "The file is not valid UTF-8. Choose the file's encoding (for"
                " example Windows-1252) or save it as 'CSV UTF-8'."
            )
        return path
    folder = Path(work_dir) if work_dir else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.name}.utf8"
    transcode_to_utf8(path, encoding, target)
    return target


def _open_text(spec: SourceSpec) -> io.TextIOWrapper:
    # newline="" keeps \r, \n and \r\n inside quoted values and lets csv
    # count every one of them as a physical line end.
    return open(spec.working_path, encoding="utf-8-sig", newline="")


def _csv_headers(spec: SourceSpec) -> list[str]:
    with _open_text(spec) as handle:
        reader = csv.reader(handle, delimiter=spec.delimiter, quotechar=spec.quote_char)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise SourceError(f"The header line cannot be read: {exc}.") from None
    if not header or not any(cell.strip() for cell in header):
        raise SourceError("The first line is empty; it must hold the column names.")
    return [cell.replace("\x00", "") for cell in header]


# ---------------------------------------------------------------------------
# Reading records


def read_batches(
    spec: SourceSpec, batch_rows: int, skip_records: int = 0
) -> Iterator[RecordBatch]:
    """Stream the working copy as batches of at most batch_rows records.

    Raises:
        SourceError: the structure breaks (an unterminated quote, invalid JSON).
    """
    if spec.format in ("csv", "tsv"):
        yield from _read_csv(spec, batch_rows, skip_records)
    elif spec.format == "json":
        yield from _batches_from_objects(
            spec, _iter_json_array(spec), batch_rows, skip_records
        )
    else:
        yield from _batches_from_objects(
            spec, _iter_json_lines(spec), batch_rows, skip_records
        )


def split_batch(batch: RecordBatch, sizes: list[int]) -> list[RecordBatch]:
    """Cut a batch into pieces of the given sizes, then one with the rest.

    Each warning and problem goes with the piece that contains its line or
    record; anything before the first record stays with the first piece.
    """
    height = batch.frame.height
    starts = [0]
    for size in sizes:
        if starts[-1] + size >= height:
            break
        starts.append(starts[-1] + size)
    if len(starts) == 1:
        return [batch]
    lines = batch.frame["__line"]
    records = batch.frame["__record"]
    pieces = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else height
        low_line = lines[start] if index else None
        high_line = lines[end] if end < height else None
        low_record = records[start] if index else None
        high_record = records[end] if end < height else None
        pieces.append(
            RecordBatch(
                frame=batch.frame.slice(start, end - start),
                warnings=[
                    w for w in batch.warnings if _within(w["line"], low_line, high_line)
                ],
                problems={
                    record: message
                    for record, message in batch.problems.items()
                    if _within(record, low_record, high_record)
                },
            )
        )
    return pieces


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value < high)


# Columns read beyond the header width by the Polars reader. A record with
# more fields than this makes Polars fail, and the file is read by the csv
# module from that batch on.
_EXTRA_COLUMNS = 16
# Physical line ends as the csv module counts them (newline="" mode).
_LINE_END = r"\r\n|\r|\n"


class _UseCsvModule(Exception):
    """The Polars reader cannot reproduce the csv module for this batch."""


def _read_csv(
    spec: SourceSpec, batch_rows: int, skip_records: int
) -> Iterator[RecordBatch]:
    """Read CSV/TSV with Polars when it can, else with the csv module.

    Polars parses well-formed files about 20 times faster and without the
    GIL, which leaves the second core to the database. It cannot tell how
    many fields a long record had or accept the malformed quoting that the
    csv module tolerates; such a batch, or any Polars error, hands the rest
    of the file to the csv module, which gives the same records, lines and
    warnings for well-formed input.
    """
    done = skip_records
    if spec.quote_char == '"' and not _has_bare_cr(Path(spec.working_path)):
        try:
            for batch in _read_csv_polars(spec, batch_rows, skip_records):
                yield batch
                done = int(batch.frame["__record"][-1])
        except (_UseCsvModule, pl.exceptions.PolarsError, OSError) as exc:
            logger.info(
                "reading %s with the csv module from record %s: %s",
                Path(spec.working_path).name,
                done + 1,
                str(exc)[:200],
            )
        else:
            return
    yield from _read_csv_module(spec, batch_rows, done)


def _read_csv_polars(
    spec: SourceSpec, batch_rows: int, skip_records: int
) -> Iterator[RecordBatch]:
    width = len(spec.headers)
    names = [f"c{i}" for i in range(width + _EXTRA_COLUMNS)]
    # Polars' own batched scan reads far ahead of the consumer (about 470 MiB
    # for a 290 MB file), so memory grew with the file. Parsing one block of
    # whole records at a time keeps it bounded by the block size.
    frames = (
        pl.scan_csv(
            io.BytesIO(block),
            has_header=False,
            separator=spec.delimiter,
            quote_char=spec.quote_char,
            schema=dict.fromkeys(names, pl.String),
            empty_string_is_null=False,
            truncate_ragged_lines=False,
            raise_if_empty=False,
            missing_columns="insert",
            extra_columns="raise",
        ).collect()
        for block in _plain_blocks(Path(spec.working_path))
    )
    blank_header = [i for i, h in enumerate(spec.headers) if not h.strip()]
    limit = get_settings().max_value_chars * 4
    record = 0
    line = 0
    pending: list[pl.DataFrame] = []
    for chunk in frames:
        if line == 0:
            if chunk.height == 0:
                continue
            _check_polars_chunk(chunk.head(1), names, width, limit)
            line = 2 + _line_ends(chunk.head(1), names).item()
            chunk = chunk.slice(1)
        if chunk.height == 0:
            continue
        _check_polars_chunk(chunk, names, width, limit)
        ends = _line_ends(chunk, names)
        lines = line + (ends + 1).cum_sum() - (ends + 1)
        line += chunk.height + int(ends.sum())
        chunk = chunk.select(names[:width]).with_columns(
            __line=lines,
            __record=pl.int_range(
                record + 1, record + 1 + chunk.height, dtype=pl.Int64
            ),
        )
        record += chunk.height
        if record <= skip_records:
            continue
        pending.append(chunk.filter(pl.col("__record") > skip_records))
        if sum(frame.height for frame in pending) >= batch_rows:
            # Polars chunks do not line up with batches (the first one also
            # contained the header), so cut exact batches and carry the rest.
            frame = pl.concat(pending)
            while frame.height >= batch_rows:
                yield _polars_batch(frame.slice(0, batch_rows), blank_header)
                frame = frame.slice(batch_rows)
            pending = [frame] if frame.height else []
    if pending:
        yield _polars_batch(pl.concat(pending), blank_header)


def _plain_blocks(path: Path) -> Iterator[bytes]:
    """Yield record blocks for Polars, refusing any that look compressed.

    Polars decompresses input that starts with a gzip, zlib or zstd header
    by itself. Text can start that way ("x^" is a valid zlib header, and
    "x" followed by U+0001 decompresses to nothing), so such a block goes
    to the csv module instead of being misread.
    """
    for block in _record_blocks(path, POLARS_BLOCK_BYTES):
        if _compression_header(block):
            raise _UseCsvModule("a block starts like compressed data")
        yield block


def _compression_header(data: bytes) -> bool:
    """Return whether data starts with a header that Polars takes for compression."""
    return data[:2] in _ZLIB_HEADERS or data[:4] == b"\x28\xb5\x2f\xfd"


# gzip and the four zlib headers (one per compression level).
_ZLIB_HEADERS = (b"\x1f\x8b", b"x\x01", b"x^", b"x\x9c", b"x\xda")


def _record_blocks(path: Path, size: int) -> Iterator[bytes]:
    """Yield the file in blocks of about size bytes that end between records.

    A line feed ends a record when the double quotes before it are balanced
    (an escaped quote is two quotes, so it keeps the balance). A UTF-8 byte
    order mark at the start is dropped.
    """
    carry = b""
    first = True
    with path.open("rb") as handle:
        while block := handle.read(size):
            if first:
                block = block.removeprefix(b"\xef\xbb\xbf")
                first = False
            data = carry + block
            cut = data.rfind(b"\n")
            odd = data.count(b'"', 0, cut) % 2 if cut >= 0 else 0
            while cut >= 0 and odd:
                previous = data.rfind(b"\n", 0, cut)
                odd ^= data.count(b'"', max(previous, 0), cut) % 2
                cut = previous
            if cut < 0:
                carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut + 1 :]
    if carry:
        yield carry


def _has_bare_cr(path: Path) -> bool:
    """Tell whether the file has a carriage return that is not before a line feed.

    The csv module ends a line at such a \r, Polars keeps it as text (or drops
    it at the end of a field), so these files are read by the csv module.
    """
    previous_cr = False
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if previous_cr and not chunk.startswith(b"\n"):
                return True
            if chunk.count(b"\r") != chunk.count(b"\r\n") + chunk.endswith(b"\r"):
                return True
            previous_cr = chunk.endswith(b"\r")
    return previous_cr


def _line_ends(chunk: pl.DataFrame, names: list[str]) -> pl.Series:
    """Count the line ends inside each record's values (quoted newlines)."""
    return chunk.select(
        pl.sum_horizontal(
            pl.col(name).str.count_matches(_LINE_END).fill_null(0) for name in names
        ).cast(pl.Int64)
    ).to_series()


def _check_polars_chunk(
    chunk: pl.DataFrame, names: list[str], width: int, limit: int
) -> None:
    """Hand over to the csv module where its warnings or limits would apply."""
    beyond = names[width:]
    if chunk.select(pl.any_horizontal(pl.col(n) != "" for n in beyond).any()).item():
        raise _UseCsvModule("a record has values beyond the last header column")
    longest = chunk.select(
        pl.max_horizontal(pl.col(n).str.len_chars().max() for n in names[:width])
    ).item()
    if longest is not None and longest >= limit:
        raise _UseCsvModule("a value is longer than the csv module's field limit")


def _polars_batch(frame: pl.DataFrame, blank_header: list[int]) -> RecordBatch:
    warnings: list[dict[str, Any]] = []
    for index in blank_header:
        column = f"c{index}"
        stray = frame.filter(pl.col(column).str.strip_chars() != "")
        for line, value in stray.select("__line", column).iter_rows():
            warnings.append(
                {
                    "line": line,
                    "column": f"column {index + 1}",
                    "message": f"value {value[:60]!r} in column"
                    f" {index + 1}, which has no header — ignored",
                }
            )
    warnings.sort(key=lambda warning: warning["line"])
    return RecordBatch(frame=frame, warnings=warnings, problems={})


def _set_field_limit() -> int:
    # Bounded so that an unterminated quote fails fast instead of reading the
    # rest of the file into one field.
    limit = max(get_settings().max_value_chars * 4, 1024) + 1
    csv.field_size_limit(limit)
    return limit


def _read_csv_module(
    spec: SourceSpec, batch_rows: int, skip_records: int
) -> Iterator[RecordBatch]:
    width = len(spec.headers)
    blank_header = [not h.strip() for h in spec.headers]
    _set_field_limit()
    with _open_text(spec) as handle:
        reader = csv.reader(handle, delimiter=spec.delimiter, quotechar=spec.quote_char)
        try:
            next(reader)
        except csv.Error as exc:
            raise SourceError(f"line 1: {exc}") from None
        start = reader.line_num + 1
        record = 0
        rows: list[list[str]] = []
        lines: list[int] = []
        warnings: list[dict[str, Any]] = []
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise SourceError(
                    f"line {start}: the file cannot be read from here ({exc}). Is a"
                    " quote left open, or a value longer than"
                    f" {get_settings().max_value_chars:,} characters?"
                ) from None
            record += 1
            line = start
            start = reader.line_num + 1
            if record <= skip_records:
                continue
            if len(row) != width:
                row = _fit_row(row, width, line, warnings)
            for index in range(width):
                if blank_header[index] and row[index].strip():
                    warnings.append(
                        {
                            "line": line,
                            "column": f"column {index + 1}",
                            "message": f"value {row[index][:60]!r} in column"
                            f" {index + 1}, which has no header — ignored",
                        }
                    )
            rows.append(row)
            lines.append(line)
            if len(rows) >= batch_rows:
                yield _csv_batch(rows, lines, record - len(rows) + 1, width, warnings)
                rows, lines, warnings = [], [], []
        if rows:
            yield _csv_batch(rows, lines, record - len(rows) + 1, width, warnings)


def _fit_row(
    row: list[str], width: int, line: int, warnings: list[dict[str, Any]]
) -> list[str]:
    if not row:
        return [""] * width
    if len(row) < width:
        return row + [""] * (width - len(row))
    extra = row[width:]
    if any(cell.strip() for cell in extra):
        shown = ", ".join(repr(cell[:40]) for cell in extra[:5])
        warnings.append(
            {
                "line": line,
                "column": None,
                "message": f"{len(extra)} values beyond the last header column"
                f" ignored ({shown})",
            }
        )
    return row[:width]


def _csv_batch(
    rows: list[list[str]],
    lines: list[int],
    first_record: int,
    width: int,
    warnings: list[dict[str, Any]],
) -> RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    data: dict[str, Any] = {
        f"c{i}": pl.Series(f"c{i}", columns[i], dtype=pl.String) for i in range(width)
    }
    data["__line"] = pl.Series("__line", lines, dtype=pl.Int64)
    data["__record"] = pl.int_range(first_record, first_record + len(rows), eager=True)
    frame = pl.DataFrame(data).with_columns(pl.col("__record").cast(pl.Int64))
    return RecordBatch(frame=frame, warnings=warnings, problems={})


def _flatten(record: dict[str, Any], out: dict[str, Any], prefix: str = "") -> None:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and (prefix or key in JSON_CONTAINER_KEYS):
            _flatten(value, out, f"{name}.")
        else:
            out[name] = value


def _cell_text(value: Any) -> str:
    """Turn a JSON value into the cell text the casting step reads."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _iter_json_lines(spec: SourceSpec) -> Iterator[tuple[int, Any]]:
    with open(spec.working_path, encoding="utf-8-sig", newline=None) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                yield (
                    number,
                    SourceError(
                        f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})"
                    ),
                )


def _iter_json_array(spec: SourceSpec) -> Iterator[tuple[int, Any]]:
    """Yield (start line, value) for each element of a top-level JSON array.

    Reads in chunks and decodes one element at a time, so memory stays
    bounded by the largest element rather than the file.
    """
    decoder = json.JSONDecoder()
    with open(spec.working_path, encoding="utf-8-sig", newline="") as handle:
        buffer = handle.read(CHUNK_BYTES)
        position = 0
        line = 1
        eof = False

        def skip_space() -> None:
            nonlocal position, line
            while position < len(buffer) and buffer[position] in " \t\r\n":
                if buffer[position] == "\n":
                    line += 1
                position += 1

        skip_space()
        if position >= len(buffer) or buffer[position] != "[":
            raise SourceError(
                "A JSON file must hold an array of objects: [{...}, {...}]."
            )
        position += 1
        expect_value = True
        while True:
            skip_space()
            if position >= len(buffer) - 1 and not eof:
                more = handle.read(CHUNK_BYTES)
                eof = not more
                buffer = buffer[position:] + more
                position = 0
                continue
            if position >= len(buffer):
                raise SourceError(
                    f"line {line}: the JSON array is not closed with ']'."
                )
            char = buffer[position]
            if char == "]":
                return
            if char == "," and not expect_value:
                position += 1
                expect_value = True
                continue
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if not eof:
                    more = handle.read(CHUNK_BYTES)
                    eof = not more
                    buffer = buffer[position:] + more
                    position = 0
                    continue
                error_line = line + buffer.count("\n", position, exc.pos)
                raise SourceError(
                    f"line {error_line}: invalid JSON ({exc.msg})."
                ) from None
            start_line = line
            line += buffer.count("\n", position, end)
            position = end
            expect_value = False
            yield start_line, value


def _json_headers(spec: SourceSpec) -> list[str]:
    """Collect every key (dotted for container objects) in order of appearance."""
    iterator = (
        _iter_json_array(spec) if spec.format == "json" else _iter_json_lines(spec)
    )
    seen: dict[str, None] = {}
    count = 0
    for _, value in iterator:
        if isinstance(value, dict):
            flat: dict[str, Any] = {}
            _flatten(value, flat)
            for key in flat:
                seen.setdefault(key.replace("\x00", ""), None)
        count += 1
    if not count:
        raise SourceError("The JSON file contains no records.")
    if not seen:
        raise SourceError(
            "The JSON records hold no keys; each record must be an object."
        )
    return list(seen)


def _batches_from_objects(
    spec: SourceSpec,
    items: Iterator[tuple[int, Any]],
    batch_rows: int,
    skip_records: int,
) -> Iterator[RecordBatch]:
    index = {name: i for i, name in enumerate(spec.headers)}
    width = len(spec.headers)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    lines: list[int] = []
    problems: dict[int, str] = {}
    record = 0
    first = 1
    for line, value in items:
        if isinstance(value, SourceError):
            raise value
        record += 1
        if record <= skip_records:
            first = record + 1
            continue
        cells: list[str | None] = [None] * width
        if isinstance(value, dict):
            flat: dict[str, Any] = {}
            _flatten(value, flat)
            for key, cell in flat.items():
                position = index.get(key.replace("\x00", ""))
                if position is not None:
                    cells[position] = _valid_text(_cell_text(cell), record, problems)
        else:
            problems[record] = f"record {record} is not a JSON object"
        for i in range(width):
            columns[i].append(cells[i])
        lines.append(line)
        if len(lines) >= batch_rows:
            yield _object_batch(columns, lines, first, problems)
            columns = [[] for _ in range(width)]
            lines, problems, first = [], {}, record + 1
    if lines:
        yield _object_batch(columns, lines, first, problems)


def _valid_text(text: str, record: int, problems: dict[int, str]) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problems[record] = "contains an invalid Unicode escape (lone surrogate)"
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _object_batch(
    columns: list[list[str | None]],
    lines: list[int],
    first_record: int,
    problems: dict[int, str],
) -> RecordBatch:
    data: dict[str, Any] = {
        f"c{i}": pl.Series(f"c{i}", col, dtype=pl.String)
        for i, col in enumerate(columns)
    }
    data["__line"] = pl.Series("__line", lines, dtype=pl.Int64)
    data["__record"] = pl.Series(
        "__record", range(first_record, first_record + len(lines)), dtype=pl.Int64
    )
    return RecordBatch(frame=pl.DataFrame(data), warnings=[], problems=dict(problems))


def count_records(spec: SourceSpec) -> int:
    """Count the data records of a file by reading it once (no casting)."""
    total = 0
    for batch in read_batches(spec, batch_rows=100_000):
        total += batch.frame.height
    return total


def delimiter_hint(spec: SourceSpec) -> str | None:
    """Name the delimiter a one-column header seems to use, for error messages."""
    if len(spec.headers) != 1:
        return None
    header = spec.headers[0]
    counts = Counter({d: header.count(d) for d in DELIMITERS if d != spec.delimiter})
    delimiter, count = counts.most_common(1)[0] if counts else (None, 0)
    if not count:
        return None
    return {"\t": "TAB", ";": "';'", ",": "','", "|": "'|'"}[delimiter]


def remove_working_copy(spec: SourceSpec, original: str) -> None:
    """Delete the transcoded copy of a file once no job needs it."""
    if spec.working_path and spec.working_path != original:
        Path(spec.working_path).unlink(missing_ok=True)
        logger.debug("removed working copy %s", spec.working_path)
