"""The per-dataset job on Spark: the same rules as DataFrames, without shuffling the wide rows.

``cleaning.classify`` and the cross-date rule of ``ecomlake.etl.dedupe`` define a row's fate.
Written as one wide DataFrame, Spark moved every column of every row across the cluster twice
-- the duplicate window partitioned the rows by key, the cross-date check joined them on it --
which at 1M transactions was as much time as computing the rules. Here the same decisions are
taken on the few columns they read:

1. **facts** (cached): every row's first broken rule (``_stateless``), typed key
   (``_key<i>``) and typed values (``_t_<column>``) with its date, file and line -- computed
   once, without the raw text;
2. **duplicates** (cached): from the valid rows' (date, file, line, key) alone, one window
   (``cleaning.duplicate_flag``) marks every valid row whose key an earlier row claimed --
   earlier in (file, line) order on its date (``cleaning.classify``'s rule) or, for the
   datasets keyed in the whole lake (``dedupe.LAKE_KEYED``), on an earlier date of the run or
   of the published dates outside it (``ecomlake.etl.dedupe``'s rule) -- with the first date of its key.
   They are a few rows per thousand, so they are broadcast back by (file, line);
3. the processed rows come from the cached typed values; the quarantine rows take their raw
   text back from the checkpointed raw read by (file, line), and their facts are recomputed
   for the wording (``jobs.quarantine_output``).

The parity tests run this and the DuckDB job (``clean_duckdb``) over the same files and
require the same processed rows, quarantine rows and counts.
"""

# ruff: noqa: N806 -- F and Window are the PySpark aliases (functions, Window)

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from ecomlake.contract import PARTITION_KEY, Dataset
from ecomlake.etl import cleaning, dedupe, io
from ecomlake.etl.engines import api
from ecomlake.schemas import RAW_SCHEMAS, Reason

STATELESS: Final = cleaning.STATELESS
FILE: Final = cleaning.FILE
LINE: Final = cleaning.LINE
_DUPLICATE: Final = Reason.DUPLICATE_KEY.value
_FIRST: Final = "_first"
# Rows joined back by broadcast up to this many; past it (a whole file sent again), by a shuffle.
BROADCAST_ROWS: Final = 2_000_000


@dataclass
class Marked:
    """One dataset's classified rows of a run, and what they were computed from."""

    dataset: Dataset
    raw: Any  # the raw read (text columns, _error, _line, _file, date), checkpointed
    rows: Any  # date, _file, _line, _stateless, _key<i>, _t_<column>, _reason, _first_date
    kept: list[Any] = field(default_factory=list)

    def counts(self) -> list[Any]:
        """(date, reason or None, rows) of the classified rows."""
        F = api(self.rows).F
        return self.rows.groupBy(PARTITION_KEY, cleaning.REASON).agg(F.count(F.lit(1)).alias("n")).collect()

    def processed(self) -> Any:
        """The processed table's rows: the valid rows' typed values through ``processed_columns``."""
        from ecomlake.etl.transforms.processed import processed_columns

        F = api(self.rows).F
        schema = RAW_SCHEMAS[self.dataset]
        typed = self.rows.where(F.col(cleaning.REASON).isNull()).select(
            *[F.col(cleaning.typed_name(c.name)).alias(c.name) for c in schema.columns], F.col(PARTITION_KEY)
        )
        return typed.select(*processed_columns(F, self.dataset))

    def quarantine(self, bad_rows: int) -> Any:
        """The quarantine rows (``jobs.quarantine_output``), their text taken back from the raw read."""
        from ecomlake.etl.jobs import quarantine_output

        F = api(self.rows).F
        schema = RAW_SCHEMAS[self.dataset]
        bad = self.rows.where(F.col(cleaning.REASON).isNotNull()).select(
            F.col(FILE), F.col(LINE), F.col(cleaning.REASON), F.col(dedupe.FIRST_DATE)
        )
        text = self.raw.join(_small(bad, bad_rows), on=[FILE, LINE], how="inner")
        facts = cleaning.add_facts(cleaning.normalize(text, schema), schema)
        return facts.select(*quarantine_output(F, self.dataset))

    def release(self) -> None:
        for frame in self.kept:
            io.release(frame)
        self.kept = []


def _small(frame: Any, rows: int) -> Any:
    """``frame`` marked for a broadcast join when it is small enough to send to every task."""
    return api(frame).F.broadcast(frame) if rows <= BROADCAST_ROWS else frame


def classify_and_mark(raw: Any, dataset: Dataset, claims: Any | None) -> Marked:
    """Classify the raw rows of a run and mark its duplicates.

    ``claims``: (key..., date) of the published processed rows of earlier dates outside the run.
    """
    F = api(raw).F
    schema = RAW_SCHEMAS[dataset]
    prepared = cleaning.add_facts(cleaning.normalize(raw, schema), schema)
    stateless = cleaning.reason_of(F, cleaning.row_checks(F, schema)).alias(STATELESS)
    typed = [cleaning.typed_value(F, c).alias(cleaning.typed_name(c.name)) for c in schema.columns]
    facts = io.materialize(
        prepared.select(
            F.col(PARTITION_KEY),
            F.col(FILE),
            F.col(LINE),
            stateless,
            *dedupe.classified_keys(prepared, dataset),
            *typed,
        ),
        f"facts_{dataset}",
    )
    duplicates = io.materialize(_duplicates(facts, dataset, claims), f"duplicates_{dataset}")
    found = duplicates.count()
    rows = facts.join(_small(duplicates, found), on=[FILE, LINE], how="left").select(
        *[F.col(c) for c in facts.columns],
        F.when(F.col(_FIRST).isNotNull(), F.lit(_DUPLICATE)).otherwise(F.col(STATELESS)).alias(cleaning.REASON),
        F.col(_FIRST).alias(dedupe.FIRST_DATE),
    )
    return Marked(dataset, raw, rows, [facts, duplicates])


def _duplicates(facts: Any, dataset: Dataset, claims: Any | None) -> Any:
    """(file, line, first date of the key) of the rows that are ``duplicate_key``, from the narrow columns.

    One window over the valid rows (and the published claims): a key's first claim in (date,
    file, line) order keeps it, every later one is a duplicate -- within a date the first row in
    (file, line) order (``cleaning.classify``), across dates the first date (``ecomlake.etl.dedupe``).
    The datasets not keyed in the whole lake compare within a date only.
    """
    F, _, Window = api(facts)
    names = dedupe.key_names(dataset)
    valid = facts.where(F.col(STATELESS).isNull()).select(
        F.col(PARTITION_KEY), F.col(FILE), F.col(LINE), *[F.col(n) for n in names]
    )
    lake_keyed = dedupe.is_lake_keyed(dataset)
    if lake_keyed and claims is not None:
        published = claims.select(
            F.col(PARTITION_KEY),
            F.lit(None).cast("string").alias(FILE),
            F.lit(None).cast("bigint").alias(LINE),
            *[F.col(n) for n in names],
        )
        valid = valid.unionByName(published)
    scope = [] if lake_keyed else [F.col(PARTITION_KEY)]
    keys = [F.col(n) for n in names]
    order = [F.col(PARTITION_KEY).asc(), F.col(FILE).asc_nulls_first(), F.col(LINE).asc_nulls_first()]
    first = F.first(F.col(PARTITION_KEY)).over(Window.partitionBy(*scope, *keys).orderBy(*order))
    ranked = valid.select(
        F.col(FILE),
        F.col(LINE),
        cleaning.duplicate_flag(F, Window, keys, scope, order).alias("_dup"),
        first.alias(_FIRST),
    )
    return ranked.where(F.col("_dup") & F.col(LINE).isNotNull()).select(F.col(FILE), F.col(LINE), F.col(_FIRST))


__all__ = ["BROADCAST_ROWS", "Marked", "classify_and_mark"]
