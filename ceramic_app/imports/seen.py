"""Compact memory of keys already seen in earlier batches of one import.

An import must know whether an e-mail key, custom_id or unique field value
appeared earlier in the file, across batches, without holding millions of
strings. SeenKeys keeps a 64-bit hash of each value with the hash of the
e-mail key that owns it: 16 bytes a value, so 5M rows cost about 80 MB.

NOTE: two different values with the same 64-bit hash would be taken for
one. By the birthday bound (n^2 / 2^65) that chance is about 7 in 10
million for a 5M-row file, and the effect is one record counted as a merge
or a conflict that is not.
"""

from __future__ import annotations

import polars as pl

_SEED = 0x5EED
_SCHEMA = {"value": pl.UInt64, "owner": pl.UInt64}


def hash_values(values: pl.Series) -> pl.Series:
    """Hash strings to u64 with a fixed seed (stable within one Polars version)."""
    return values.cast(pl.String).hash(seed=_SEED)


class SeenKeys:
    """Hashes of values seen so far, each with the hash of its owner's e-mail key.

    Entries are appended in file order, so the first entry of a value is its
    owner. Lookups scan the table with a hash set of the probed values,
    which costs one pass over the table and no hash table of its size.
    """

    def __init__(self) -> None:
        self._chunks: list[pl.DataFrame] = []
        self._table = pl.DataFrame(schema=_SCHEMA)

    def __len__(self) -> int:
        return self._table.height + sum(chunk.height for chunk in self._chunks)

    def _merged(self) -> pl.DataFrame:
        # Without rechunking, concat links the existing column chunks instead
        # of copying the whole table once per batch.
        if self._chunks:
            self._table = pl.concat([self._table, *self._chunks], rechunk=False)
            self._chunks = []
        return self._table

    def owners(self, value_hashes: pl.Series) -> pl.Series:
        """Return the owner hash recorded for each value hash, or null if unseen."""
        probe = pl.DataFrame({"value": value_hashes.cast(pl.UInt64)})
        table = self._merged()
        if table.height == 0 or probe.height == 0:
            return pl.Series("owner", [None] * probe.height, dtype=pl.UInt64)
        found = table.filter(pl.col("value").is_in(probe["value"].implode())).unique(
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
        if frame.height:
            self._chunks.append(frame)
