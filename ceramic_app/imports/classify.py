"""In-file duplicates and conflicts of one cast batch, checked before any write.

group_batch() rejects records whose custom_id (or unique field value) was
already used by a record with another e-mail earlier in the file, then
merges the records that share an e-mail key in file order: the later
non-empty value wins, a clear request wins only where no record gave a
value, and tags are the union. One group becomes one staging row.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ceramic_app.imports.mapping import Plan
from ceramic_app.imports.seen import SeenKeys, hash_values
from ceramic_app.values import show


@dataclass
class Grouped:
    """A batch after conflict checks and merging.

    records: every record with __status updated and __grp (the group's first
    record number, null unless ok). groups: one row per e-mail key, with
    "continuing" set when the key was already written by an earlier batch.
    """

    records: pl.DataFrame
    groups: pl.DataFrame


@dataclass
class ImportMemory:
    """Memory of the keys and values earlier batches of this import wrote."""

    emails: SeenKeys
    custom_ids: SeenKeys
    unique_values: dict[str, SeenKeys]

    @classmethod
    def empty(cls, plan: Plan) -> ImportMemory:
        """Return a memory with nothing seen yet."""
        unique = {f.key: SeenKeys() for f in plan.fields if f.rules.get("unique")}
        return cls(SeenKeys(), SeenKeys(), unique)


def _reject_reused(
    frame: pl.DataFrame,
    value_col: str,
    seen: SeenKeys,
    label: str,
    stored: dict[str, tuple[str, str]],
) -> pl.DataFrame:
    """Reject ok records whose value belongs to another e-mail key.

    The owner of a value is the stored profile that has it, else the first
    record of the file that used it (in an earlier batch or this one).
    """
    ok = pl.col("__status") == "ok"
    candidates = frame.filter(ok & pl.col(value_col).is_not_null())
    if candidates.height == 0:
        return frame
    candidates = candidates.select(
        "__record", "__line", "__kh", value_col
    ).with_columns(vh=hash_values(candidates[value_col]))
    prior = seen.owners(candidates["vh"])
    firsts = candidates.group_by("vh", maintain_order=True).agg(
        first_owner=pl.col("__kh").first(), first_line=pl.col("__line").first()
    )
    holders = pl.DataFrame(
        {
            value_col: list(stored),
            "stored_kh": hash_values(
                pl.Series([k for k, _ in stored.values()], dtype=pl.String)
            ),
            "stored_email": [e for _, e in stored.values()],
        },
        schema={
            value_col: pl.String,
            "stored_kh": pl.UInt64,
            "stored_email": pl.String,
        },
    )
    candidates = (
        candidates.with_columns(prior=prior)
        .join(firsts, on="vh", how="left")
        .join(holders, on=value_col, how="left")
        .with_columns(owner=pl.coalesce("stored_kh", "prior", "first_owner"))
        .filter(pl.col("owner") != pl.col("__kh"))
    )
    if candidates.height == 0:
        return frame
    reasons = {}
    for record, value, holder, prior_owner, line in candidates.select(
        "__record", value_col, "stored_email", "prior", "first_line"
    ).iter_rows():
        if holder is not None:
            reasons[record] = (
                f"{label}: {show(value)} already belongs to another profile ({holder})"
            )
        elif prior_owner is not None:
            reasons[record] = (
                f"{label}: {show(value)} is already used by another e-mail earlier"
                " in the file"
            )
        else:
            reasons[record] = (
                f"{label}: {show(value)} is already used by another e-mail on line {line}"
            )
    return frame.with_columns(
        __reason=pl.when(pl.col("__record").is_in(list(reasons)))
        .then(
            pl.col("__record").replace_strict(
                reasons, default=None, return_dtype=pl.String
            )
        )
        .otherwise(pl.col("__reason")),
    ).with_columns(
        __status=pl.when(
            pl.col("__reason").is_not_null() & (pl.col("__status") == "ok")
        )
        .then(pl.lit("rejected"))
        .otherwise(pl.col("__status"))
    )


def group_batch(
    frame: pl.DataFrame,
    plan: Plan,
    memory: ImportMemory,
    stored: dict[str, dict[str, tuple[str, str]]] | None = None,
) -> Grouped:
    """Reject conflicting records and merge records sharing an e-mail key.

    stored maps a value column ("__cid" or "v_<key>") to the stored profiles
    that hold its values: value -> (email_key, email).
    """
    stored = stored or {}
    frame = frame.with_columns(__kh=hash_values(frame["__key"].fill_null("")))
    if plan.custom_id_index is not None:
        label = plan.headers[plan.custom_id_index].strip() or "custom_id"
        frame = _reject_reused(
            frame, "__cid", memory.custom_ids, label, stored.get("__cid", {})
        )
    for field in plan.fields:
        if field.key in memory.unique_values:
            column = f"v_{field.key}"
            frame = _reject_reused(
                frame,
                column,
                memory.unique_values[field.key],
                field.source.strip() or field.key,
                stored.get(column, {}),
            )
    ok = frame.filter(pl.col("__status") == "ok")
    keys = [f.key for f in plan.fields]
    aggregations = [
        pl.col("__record").first().alias("grp"),
        pl.col("__line").first().alias("first_line"),
        pl.col("__email").first().alias("email"),
        pl.col("__kh").first().alias("kh"),
        pl.col("__cid").drop_nulls().last().alias("custom_id"),
        pl.col("__cid_clear").any().alias("cid_clear"),
        pl.col("__tags")
        .str.json_decode(pl.List(pl.String))
        .drop_nulls()
        .explode()
        .drop_nulls()
        .unique(maintain_order=True)
        .alias("tag_list"),
        pl.len().alias("size"),
    ]
    aggregations += [pl.col(f"v_{k}").drop_nulls().last().alias(f"v_{k}") for k in keys]
    aggregations += [pl.col(f"x_{k}").any().alias(f"x_{k}") for k in keys]
    groups = ok.group_by("__key", maintain_order=True).agg(aggregations)
    groups = groups.rename({"__key": "email_key"}).with_columns(
        [(pl.col(f"x_{k}") & pl.col(f"v_{k}").is_null()).alias(f"x_{k}") for k in keys]
        + [pl.col("cid_clear") & pl.col("custom_id").is_null()]
    )
    tags = (
        pl.when(pl.col("tag_list").list.len() > 0)
        .then(
            pl.struct(pl.col("tag_list").alias("a"))
            .struct.json_encode()
            .str.strip_prefix('{"a":')
            .str.strip_suffix("}")
        )
        .otherwise(None)
    )
    groups = groups.with_columns(tags=tags).drop("tag_list")
    continuing = memory.emails.owners(groups["kh"]).is_not_null()
    groups = groups.with_columns(continuing=continuing)
    record_group = ok.select("__record", "__key").join(
        groups.select(pl.col("email_key").alias("__key"), pl.col("grp").alias("__grp")),
        on="__key",
        how="left",
    )
    records = frame.join(record_group.drop("__key"), on="__record", how="left")
    return Grouped(records=records, groups=groups)


def remember(memory: ImportMemory, plan: Plan, records: pl.DataFrame) -> None:
    """Record the keys and values of records that reached a profile."""
    written = records.filter(
        pl.col("__outcome").is_in(["created", "updated", "unchanged", "merged"])
    )
    if written.height == 0:
        return
    memory.emails.add(written["__kh"], written["__kh"])
    if plan.custom_id_index is not None:
        with_cid = written.filter(pl.col("__cid").is_not_null())
        memory.custom_ids.add(hash_values(with_cid["__cid"]), with_cid["__kh"])
    for key, seen in memory.unique_values.items():
        with_value = written.filter(pl.col(f"v_{key}").is_not_null())
        seen.add(hash_values(with_value[f"v_{key}"]), with_value["__kh"])
