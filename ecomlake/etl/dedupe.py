"""Duplicate keys across dates: the first date a key landed on keeps its row, later ones are quarantined.

Within one date the classifier already keeps the first valid row of a key (file, then line)
and quarantines the rest. Across dates the rule is the same, one level up: for the datasets
whose key is meant to be unique in the whole lake (a transaction, a review, a clickstream
event -- not a product, whose catalog rows are snapshots, one per date), a valid row whose key
already landed on an *earlier* date is quarantined as ``duplicate_key``, and every
``duplicate_key`` row names in ``_first_date`` the date its key first landed on.

So a date's processed rows depend on the keys of earlier dates only (the as-of rule), and
when a run (re)computes date D of such a dataset, two kinds of *later* published dates E may
change with it, and are recomputed in the same run (:func:`later_dates_to_rerun`):

A. E quarantined a row because its key first landed on a date the run recomputes (that
   date's new rows may no longer hold it);
B. E holds a key -- processed, or quarantined as a later duplicate -- that the run's dates
   now hold at an earlier date than E.

Everything here is DataFrame code, the same on Spark and DuckDB.
"""

# ruff: noqa: N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ecomlake.contract import PARTITION_KEY, QUARANTINE_FIRST_DATE_COLUMN, Dataset
from ecomlake.etl import cleaning
from ecomlake.etl.engines import api
from ecomlake.schemas import RAW_SCHEMAS, Reason

# Datasets whose primary key identifies a row in the whole lake (not per catalog snapshot).
LAKE_KEYED: Final = (Dataset.TRANSACTIONS, Dataset.CLICKSTREAM, Dataset.REVIEWS)
FIRST_DATE: Final = QUARANTINE_FIRST_DATE_COLUMN
_DUPLICATE: Final = Reason.DUPLICATE_KEY.value


def is_lake_keyed(dataset: Dataset | str) -> bool:
    return Dataset(dataset) in LAKE_KEYED


def key_names(dataset: Dataset | str) -> list[str]:
    return [f"_key{i}" for i in range(len(RAW_SCHEMAS[Dataset(dataset)].primary_key))]


def classified_keys(classified: Any, dataset: Dataset | str) -> list[Any]:
    """The typed key of each classified row (null parts for rows whose key does not parse)."""
    F = api(classified).F
    return [
        k.alias(n)
        for k, n in zip(cleaning.key_columns(F, RAW_SCHEMAS[Dataset(dataset)]), key_names(dataset), strict=True)
    ]


def processed_claims(processed: Any, dataset: Dataset | str) -> Any:
    """(key..., date) of processed rows: the keys those dates own."""
    F = api(processed).F
    names = key_names(dataset)
    key = RAW_SCHEMAS[Dataset(dataset)].primary_key
    return processed.select(*[F.col(c).alias(n) for c, n in zip(key, names, strict=True)], F.col(PARTITION_KEY))


def quarantined_duplicates(quarantine: Any, dataset: Dataset | str) -> Any:
    """(key..., date, first date) of quarantined ``duplicate_key`` rows, keys typed from their text."""
    F = api(quarantine).F
    schema = RAW_SCHEMAS[Dataset(dataset)]
    dups = quarantine.where(F.col(cleaning.REASON) == F.lit(_DUPLICATE))
    prepared = cleaning.add_facts(cleaning.normalize(dups, schema), schema)
    return prepared.select(*classified_keys(prepared, dataset), F.col(PARTITION_KEY), F.col(FIRST_DATE))


def later_dates_to_rerun(
    marked: Any, dataset: Dataset | str, run_dates: Sequence[str], later_processed: Any | None, later_dups: Any | None
) -> list[str]:
    """Published dates after the run's first date whose rows the run's new keys change (rules A and B)."""
    F = api(marked).F
    names = key_names(dataset)
    run = set(run_dates)
    found: set[str] = set()
    if later_dups is not None:  # rule A
        found.update(
            r[0] for r in later_dups.where(F.col(FIRST_DATE).isin(*run)).select(PARTITION_KEY).distinct().collect()
        )
    later = [frame.select(*names, PARTITION_KEY) for frame in (later_processed, later_dups) if frame is not None]
    if later:  # rule B
        theirs = later[0] if len(later) == 1 else later[0].unionByName(later[1])
        ours = (
            marked.where(F.col(cleaning.REASON).isNull() | (F.col(cleaning.REASON) == F.lit(_DUPLICATE)))
            .where(F.col(names[0]).isNotNull())
            .select(*names, F.col(PARTITION_KEY).alias("_ours"))
        )
        hits = theirs.join(ours, on=names, how="inner").where(F.col("_ours") < F.col(PARTITION_KEY))
        found.update(r[0] for r in hits.select(PARTITION_KEY).distinct().collect())
    return sorted(found - run)
