"""Compact memory of keys already seen in earlier batches of one import.

An import must know whether an e-mail key, custom_id or unique field value
appeared earlier in the file, across batches, without holding millions of
strings. SeenKeys keeps a 64-bit hash of each value with the hash of the
e-mail key that owns it: 16 bytes a value, so 5M rows cost about 80 MB,
which moves to a temporary file as it grows.

NOTE: two different values with the same 64-bit hash would be taken for
one. By the birthday bound (n^2 / 2^65) that chance is about 7 in 10
million for a 5M-row file, and the effect is one record counted as a merge
or a conflict that is not.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from ceramic_app.settings import get_settings

# Entries kept in memory before they move to a file (16 bytes each).
SPILL_ROWS = 262_144
_SEED = 0x5EED
_SCHEMA = {"value": pl.UInt64, "owner": pl.UInt64}


def hash_values(values: pl.Series) -> pl.Series:
    """Hash strings to u64 with a fixed seed (stable within one Polars version)."""
    return values.cast(pl.String).hash(seed=_SEED)


class SeenKeys:
    """Hashes of values seen so far, each with the hash of its owner's e-mail key.

    Entries are appended in file order, so the first entry of a value is its
    owner. Lookups scan the entries with a hash set of the probed values,
    which costs one pass and no hash table of their size. Past SPILL_ROWS
    entries in memory, they move to an Arrow file in a private temporary
    folder under DATA_DIR. The worker's memory then stays the same however
    long the file is, and the page cache keeps the scans fast.
    """

    def __init__(self) -> None:
        self._chunks: list[pl.DataFrame] = []
        self._in_memory = 0
        self._files: list[Path] = []
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._spilled = 0

    def __len__(self) -> int:
        return self._spilled + self._in_memory

    def owners(self, value_hashes: pl.Series) -> pl.Series:
        """Return the owner hash recorded for each value hash, or null if unseen."""
        probe = pl.DataFrame({"value": value_hashes.cast(pl.UInt64)})
        if len(self) == 0 or probe.height == 0:
            return pl.Series("owner", [None] * probe.height, dtype=pl.UInt64)
        probed = pl.col("value").is_in(probe["value"].implode())
        # Files hold older entries than memory, and each in order: the
        # first match of a value is its owner. One file is read at a time,
        # into memory rather than mapped, so it never adds to the peak.
        parts = [
            pl.read_ipc(path.read_bytes()).filter(probed) for path in self._files
        ] + [chunk.filter(probed) for chunk in self._chunks]
        found = pl.concat(parts, rechunk=False).unique(
            subset="value", keep="first", maintain_order=True
        )
        return probe.join(found, on="value", how="left", maintain_order="left")["owner"]

    def add(self, value_hashes: pl.Series, owner_hashes: pl.Series) -> None:
        """Remember values with their owners; an earlier entry keeps precedence."""
        frame = pl.DataFrame(
            {
                "value": value_hashes.cast(pl.UInt64),
                "owner": owner_hashes.cast(pl.UInt64),
            }
        ).unique(subset="value", keep="first", maintain_order=True)
        if frame.height == 0:
            return
        self._chunks.append(frame)
        self._in_memory += frame.height
        if self._in_memory >= SPILL_ROWS:
            self._spill()

    def _spill(self) -> None:
        if self._folder is None:
            root = get_settings().data_dir / "tmp"
            root.mkdir(parents=True, exist_ok=True)
            self._folder = tempfile.TemporaryDirectory(prefix="seen-", dir=root)
        path = Path(self._folder.name) / f"{len(self._files):05d}.arrow"
        pl.concat(self._chunks).write_ipc(path)
        self._files.append(path)
        self._spilled += self._in_memory
        self._chunks = []
        self._in_memory = 0
