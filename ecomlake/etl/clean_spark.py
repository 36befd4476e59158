"""The per-dataset job on Spark: the same rules as DataFrames, without shuffling the wide rows.

``cleaning.classify`` and ``dedupe.mark`` define a row's fate. Run as written, Spark moves
every column of every row across the cluster twice -- the duplicate window partitions the
rows by key, the cross-date check joins them on it -- which at 1M transactions was as much
time as computing the rules. Here the same decisions are taken on the few columns they read:

1. **facts** (cached): every row's first broken rule (``_stateless``), typed key
   (``_key<i>``) and typed values (``_t_<column>``) with its date, file and line -- computed
   once, without the raw text;
2. **duplicates** (cached): from (date, file, line, key, ``_stateless``) alone, the rows
   ``cleaning.duplicate_flag``'s within-date window marks, and for the datasets keyed in the
   whole lake (``dedupe.LAKE_KEYED``) the valid rows whose key the run or a published date
   outside it claimed on an earlier date (``dedupe.mark``'s rule), each with the first date
   of its key. They are a few rows per thousand, so they are broadcast back by (file, line);
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

STATELESS: Final = "_stateless"
TYPED_PREFIX: Final = "_t_"
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
            *[F.col(TYPED_PREFIX + c.name).alias(c.name) for c in schema.columns], F.col(PARTITION_KEY)
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
    typed = [cleaning.typed_value(F, c).alias(TYPED_PREFIX + c.name) for c in schema.columns]
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
    """(file, line, first date of the key) of the rows that are ``duplicate_key``, from the narrow columns."""
    F, _, Window = api(facts)
    names = dedupe.key_names(dataset)
    narrow = facts.select(F.col(PARTITION_KEY), F.col(FILE), F.col(LINE), F.col(STATELESS), *[F.col(n) for n in names])
    # Within a date: the first valid row of a key in (file, line) order keeps it (cleaning.classify).
    within = F.col(STATELESS).isNull() & cleaning.duplicate_flag(
        F,
        Window,
        [F.col(n) for n in names],
        [F.col(PARTITION_KEY), F.col(STATELESS).isNull()],
        [F.col(FILE).asc(), F.col(LINE).asc()],
    )
    staged = narrow.select("*", F.when(within, F.lit(_DUPLICATE)).otherwise(F.col(STATELESS)).alias("_r"))
    if not dedupe.is_lake_keyed(dataset):
        return staged.where(F.col("_r") == F.lit(_DUPLICATE)).select(
            F.col(FILE), F.col(LINE), F.col(PARTITION_KEY).alias(_FIRST)
        )
    # Across dates (dedupe.mark): a valid row whose key was claimed on an earlier date is a duplicate.
    valid = staged.where(F.col("_r").isNull()).select(*[F.col(n) for n in names], F.col(PARTITION_KEY))
    held = valid if claims is None else valid.unionByName(claims.select(*names, PARTITION_KEY))
    firsts = held.groupBy(*names).agg(F.min(PARTITION_KEY).alias(_FIRST))
    joined = staged.join(firsts, on=names, how="left")
    later = F.col("_r").isNull() & F.col(_FIRST).isNotNull() & (F.col(_FIRST) < F.col(PARTITION_KEY))
    return joined.where((F.col("_r") == F.lit(_DUPLICATE)) | later).select(
        F.col(FILE), F.col(LINE), F.coalesce(F.col(_FIRST), F.col(PARTITION_KEY)).alias(_FIRST)
    )


__all__ = ["BROADCAST_ROWS", "Marked", "classify_and_mark"]
