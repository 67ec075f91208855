"""Compact memory of keys already seen in earlier batches of one import.

An import must know whether an e-mail key, custom_id or unique field value
appeared earlier in the file, across batches, without holding millions of
strings. SeenKeys keeps a 64-bit hash of each value with the hash of the
e-mail key that owns it: 16 bytes a value, so 5M rows cost about 80 MB.

NOTE: two different values with the same 64-bit hash would be taken for one
(about 1 in 10^12 for a 5M-row file); the effect is one record counted as a
merge or a conflict that is not.
"""

from __future__ import annotations

import polars as pl

_SEED = 0x5EED


def hash_values(values: pl.Series) -> pl.Series:
    """Hash strings to u64 with a fixed seed (stable within one Polars version)."""
    return values.cast(pl.String).hash(seed=_SEED)


class SeenKeys:
    """Hashes of values seen so far, each with the hash of its owner's e-mail key."""

    def __init__(self) -> None:
        self._chunks: list[pl.DataFrame] = []
        self._merged: pl.DataFrame | None = None

    def __len__(self) -> int:
        return sum(chunk.height for chunk in self._frames())

    def _frames(self) -> list[pl.DataFrame]:
        return ([self._merged] if self._merged is not None else []) + self._chunks

    def _table(self) -> pl.DataFrame:
        if self._chunks:
            # Merge lazily, so that adding a batch does not copy everything.
            self._merged = pl.concat(self._frames(), rechunk=True)
            self._chunks = []
        if self._merged is None:
            self._merged = pl.DataFrame(
                {
                    "value": pl.Series([], dtype=pl.UInt64),
                    "owner": pl.Series([], dtype=pl.UInt64),
                }
            )
        return self._merged

    def owners(self, value_hashes: pl.Series) -> pl.Series:
        """Return the owner hash recorded for each value hash, or null if unseen."""
        probe = pl.DataFrame({"value": value_hashes.cast(pl.UInt64)}).with_row_index(
            "i"
        )
        joined = probe.join(self._table(), on="value", how="left").sort("i")
        return joined["owner"]

    def add(self, value_hashes: pl.Series, owner_hashes: pl.Series) -> None:
        """Remember values with their owners; a value already known keeps its owner."""
        frame = pl.DataFrame(
            {
                "value": value_hashes.cast(pl.UInt64),
                "owner": owner_hashes.cast(pl.UInt64),
            }
        ).unique(subset="value", keep="first", maintain_order=True)
        known = self.owners(frame["value"]).is_not_null()
        fresh = frame.filter(~known)
        if fresh.height:
            self._chunks.append(fresh)
