"""The per-dataset job on DuckDB: the same rule expressions, rendered to SQL once, run in few passes.

On Spark, ``jobs.clean_dataset`` builds DataFrames from the column expressions of
``ecomlake.etl.cleaning`` and ``ecomlake.etl.transforms.processed``. On DuckDB those same
expressions are rendered to SQL once per code version (as the validator renders them,
``ecomlake.ingest.classifier``; kept by ``ecomlake.sqlcache``) -- sqlframe would plan the
DataFrames anew on every run, copying expression trees at each step, which cost more than the
query at a daily volume -- and the rows go through three statements instead of one wide
materialisation:

1. **classify** (``_c_<dataset>``, kept): each raw row's first broken rule (``_stateless``),
   its typed values (``_t_<column>``; the key parts among them are the typed key) and that
   key's hash, its date and order (``_ORDER``), and its place in the raw reader's tables
   (``raw.SOURCE``) -- not its text, which only the bad rows need and get back by their place
   (``raw_duckdb.records_at``);
2. **duplicates** (``_dups_<dataset>``, kept): the valid rows whose key an earlier valid row
   claimed, from one window over the keys alone. Within a date "earlier" is (file, line),
   as ``cleaning.classify`` has it; for the datasets keyed in the whole lake
   (``dedupe.LAKE_KEYED``) the window also spans the run's dates and the published claims
   of dates outside the run, ordered by date first, so a row is a duplicate when its key
   landed on an earlier date or earlier on its own date -- ``ecomlake.etl.dedupe``'s rule --
   and ``_first_date`` is the first date in the window;
3. the processed rows (the good ones' typed values through ``processed_columns``) and the
   quarantine rows (the bad ones' text read again, their facts recomputed and worded by
   ``jobs.quarantine_output``) are written from (1) and (2), and the counts per reason too.

The parity tests run the DuckDB and Spark jobs over the same files and require the same
rows in processed and quarantine.
"""

# ruff: noqa: N806 -- F and Window are the PySpark aliases (functions, Window)

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, Final

from ecomlake.contract import PARTITION_KEY, Dataset
from ecomlake.etl import cleaning, dedupe, io
from ecomlake.etl.engines import DuckDBTable, duckdb_api, duckdb_connection
from ecomlake.etl.io.raw import LINE, RANK, SOURCE
from ecomlake.etl.io.raw_duckdb import raw_view, records_at
from ecomlake.schemas import RAW_SCHEMAS, Reason
from ecomlake.sqlcache import disk_cached
from ecomlake.sqltext import ident

_DUPLICATE: Final = Reason.DUPLICATE_KEY.value
_STATELESS: Final = ident(cleaning.STATELESS)
# What the classified table keeps of a raw record besides its verdict and typed values: its place,
# its date and its order (``_ORDER``); not its text, which only the few bad records need (read
# again by their place, ``_views``), nor its file's name, which only orders rows (its rank does).
_KEPT: Final = (SOURCE, PARTITION_KEY)
# (file, line) as one number: the file's rank in key order, then the line -- the order in which a
# date's rows claim a key.
_ORDER: Final = "_order"
# The typed key's hash, made with the rest of a row's values: the duplicates are looked for among
# the rows whose hash is held twice (a number to group, where the key is text to hash again).
_KEY_HASH: Final = "_key_hash"


def names(dataset: Dataset) -> dict[str, str]:
    """The session's tables and views of one dataset's job."""
    return {
        "raw": raw_view(dataset),
        "classified": f"_c_{dataset}",
        "dups": f"_dups_{dataset}",
        "claims": f"_claims_{dataset}",
        "good": f"_good_{dataset}",
        "bad": f"_bad_{dataset}",
        "marked": f"_marked_{dataset}",
        "processed": f"_processed_{dataset}",
        "quarantine": f"_quarantine_{dataset}",
    }


@dataclass(frozen=True)
class DatasetSql:
    """One dataset's statements, over the tables ``names`` gives."""

    classify: str
    processed: str
    quarantine: str


@cache
@disk_cached("etl-statements", asdict, lambda data: DatasetSql(**data))
def dataset_sql(dataset: Dataset) -> DatasetSql:
    """Render the rules, the processed columns and the quarantine wording of ``dataset`` (once per process,
    and read from the SQL cache by the processes after the first)."""
    import sqlglot
    from sqlglot import exp

    from ecomlake.etl.jobs import quarantine_output
    from ecomlake.etl.transforms.processed import processed_columns
    from ecomlake.ingest.classifier import facts_stage

    F = duckdb_api().F
    schema = RAW_SCHEMAS[dataset]
    n = names(dataset)
    checks = cleaning.row_checks(F, schema)
    kept = [
        *(exp.column(c, quoted=True) for c in _KEPT),
        sqlglot.parse_one(f"({RANK}::BIGINT << 32) + {LINE}", read="duckdb").as_(_ORDER),
    ]
    classify = exp.select(
        *kept,
        cleaning.reason_of(F, checks).alias(cleaning.STATELESS).expression,
        *(cleaning.typed_value(F, c).alias(cleaning.typed_name(c.name)).expression for c in schema.columns),
        F.hash(*(cleaning.typed_value(F, schema.column(k)) for k in schema.primary_key)).alias(_KEY_HASH).expression,
    ).from_(facts_stage(schema, n["raw"], hint=cleaning.PLAIN_HINT))
    typed = exp.select(
        *(exp.column(cleaning.typed_name(c.name), quoted=True).as_(c.name, quoted=True) for c in schema.columns),
        exp.column(PARTITION_KEY, quoted=True),
    ).from_(n["good"])
    processed = exp.select(*(c.expression for c in processed_columns(F, dataset))).from_(typed.subquery("t"))
    quarantine = exp.select(*(c.expression for c in quarantine_output(F, dataset))).from_(facts_stage(schema, n["bad"]))
    return DatasetSql(
        classify.sql(dialect="duckdb", identify=True),
        processed.sql(dialect="duckdb", identify=True),
        quarantine.sql(dialect="duckdb", identify=True),
    )


def duplicates_sql(dataset: Dataset, *, claims: bool) -> str:
    """The valid rows of the classified table that are duplicates (``_rid``) and their key's first date (see above).

    Only keys held twice -- by two valid rows of the run, or by a row of the run and a
    published claim -- reach the window; the published claims are read for the run's keys
    only (DuckDB passes the keys' range down to the Parquet scan, which skips the rest). The
    rows held twice are found by their key's hash (``_KEY_HASH``): two rows of one key share
    it, and rows that share it by chance only are told apart by the window, which groups by
    the key itself.
    """
    n = names(dataset)
    key_names = dedupe.key_names(dataset)
    keys = ", ".join(ident(k) for k in key_names)
    typed_keys = ", ".join(f"{ident(cleaning.typed_name(c))} AS {ident(k)}" for c, k in _key_parts(dataset))
    date = ident(PARTITION_KEY)
    lake_keyed = dedupe.is_lake_keyed(dataset)
    group = keys if lake_keyed else f"{date}, {keys}"
    hashed = _KEY_HASH if lake_keyed else f"{date}, {_KEY_HASH}"
    # ``r`` is read again rather than kept: DuckDB would store every valid row's key for the
    # later reads, which costs more than scanning the classified table again with the filter.
    ctes = [
        f"r AS NOT MATERIALIZED (SELECT rowid AS _rid, {date}, {_ORDER}, {typed_keys}, {_KEY_HASH} "
        f"FROM {ident(n['classified'])} WHERE {_STATELESS} IS NULL)"
    ]
    held = f"SELECT {hashed} FROM r GROUP BY {hashed} HAVING count(*) > 1"
    rows = f"SELECT r.* EXCLUDE ({_KEY_HASH}) FROM r SEMI JOIN k USING ({hashed})"
    if claims:
        # Claims exist for the datasets keyed in the whole lake: the hash alone is the group.
        ctes.append(
            f"c AS (SELECT NULL::BIGINT AS _rid, {date}, NULL::BIGINT AS {_ORDER}, {keys} "
            f"FROM {ident(n['claims'])} SEMI JOIN r USING ({keys}))"
        )
        held += f" UNION SELECT {_KEY_HASH} FROM r SEMI JOIN c USING ({keys})"
        rows += " UNION ALL SELECT * FROM c"
    ctes += [f"k AS ({held})", f"v AS ({rows})"]
    return (
        f"WITH {', '.join(ctes)} SELECT _rid, _first FROM (SELECT _rid, row_number() OVER w AS _n, "
        f"first_value({date}) OVER w AS _first FROM v WINDOW w AS (PARTITION BY {group} "
        f"ORDER BY {date}, {_ORDER} NULLS FIRST)) WHERE _n > 1 AND _rid IS NOT NULL"
    )


def _key_parts(dataset: Dataset) -> list[tuple[str, str]]:
    """(key column, its name in the duplicates' plan): the typed key is the key columns' typed values."""
    return list(zip(RAW_SCHEMAS[dataset].primary_key, dedupe.key_names(dataset), strict=True))


def _views(conn: Any, dataset: Dataset) -> None:
    """The good, bad and marked rows of the classified table, given the duplicates.

    The bad rows' places go to the raw reader's table of wanted records (``raw_duckdb.records_at``),
    which gives their text back, split from their lines again: a few thousand records, where
    carrying every record's text through the classified table would cost more than the rest of it.
    """
    n = names(dataset)
    c, d = ident(n["classified"]), ident(n["dups"])
    at, wanted = (ident(name) for name in records_at(dataset))
    raw = ", ".join(f"r.{ident(col)}" for col in (*RAW_SCHEMAS[dataset].column_names, *cleaning.META_COLUMNS))
    keys = ", ".join(f"c.{ident(cleaning.typed_name(c))} AS {ident(k)}" for c, k in _key_parts(dataset))
    reason = f"CASE WHEN d._rid IS NOT NULL THEN '{_DUPLICATE}' ELSE c.{_STATELESS} END"
    conn.execute(
        f"CREATE OR REPLACE VIEW {ident(n['good'])} AS SELECT c.* FROM {c} c ANTI JOIN {d} d ON c.rowid = d._rid "
        f"WHERE c.{_STATELESS} IS NULL"
    )
    conn.execute(
        f"CREATE OR REPLACE TABLE {wanted} AS SELECT {SOURCE}, {_STATELESS} AS {ident(cleaning.REASON)}, "
        f"NULL::VARCHAR AS {ident(dedupe.FIRST_DATE)} FROM {c} WHERE {_STATELESS} IS NOT NULL "
        f"UNION ALL SELECT c.{SOURCE}, '{_DUPLICATE}', d._first FROM {c} c JOIN {d} d ON c.rowid = d._rid"
    )
    conn.execute(
        f"CREATE OR REPLACE VIEW {ident(n['bad'])} AS SELECT {raw}, w.{ident(cleaning.REASON)}, "
        f"w.{ident(dedupe.FIRST_DATE)} FROM {at} r JOIN {wanted} w USING ({SOURCE})"
    )
    conn.execute(
        f"CREATE OR REPLACE VIEW {ident(n['marked'])} AS SELECT {keys}, c.{ident(PARTITION_KEY)}, "
        f"{reason} AS {ident(cleaning.REASON)} FROM {c} c LEFT JOIN {d} d ON c.rowid = d._rid"
    )


def classify_and_mark(
    session: Any, dataset: Dataset, files: list[io.RawFile], lake: io.LakeIO, earlier: list[str]
) -> Any:
    """Read ``files``, classify them and find the duplicates (against the published claims of ``earlier``).

    Returns the marked rows (keys, date, ``_reason``) as a DataFrame, for the later-date rules.
    """
    from ecomlake.etl.transforms.processed import PROCESSED_SCHEMAS

    conn = duckdb_connection(session)
    n = names(dataset)
    sql = dataset_sql(dataset)
    io.read_raw(session, lake, dataset, files)
    conn.execute(f"CREATE OR REPLACE TABLE {ident(n['classified'])} AS {sql.classify}")
    claims = bool(earlier) and dedupe.is_lake_keyed(dataset)
    if claims:
        published = io.read_table(session, lake, PROCESSED_SCHEMAS[dataset], dates=earlier)
        key = RAW_SCHEMAS[dataset].primary_key
        picks = ", ".join(f"{ident(c)} AS {ident(k)}" for c, k in zip(key, dedupe.key_names(dataset), strict=True))
        conn.execute(
            f"CREATE OR REPLACE VIEW {ident(n['claims'])} AS SELECT {picks}, {ident(PARTITION_KEY)} "
            f"FROM ({io.duckdb_sql(published)})"
        )
    conn.execute(f"CREATE OR REPLACE TABLE {ident(n['dups'])} AS {duplicates_sql(dataset, claims=claims)}")
    _views(conn, dataset)
    return DuckDBTable(session, n["marked"])


def counts(session: Any, dataset: Dataset) -> list[tuple[str, str | None, int]]:
    """(date, reason or None, rows) of the classified rows.

    The duplicates are few: counted through a join of their own, and moved from the valid
    rows of their date to ``duplicate_key``, rather than joining every classified row.
    """
    n = names(dataset)
    c, d, day = ident(n["classified"]), ident(n["dups"]), ident(PARTITION_KEY)
    dups = f"FROM {c} c JOIN {d} d ON c.rowid = d._rid GROUP BY ALL"
    rows = (
        duckdb_connection(session)
        .execute(
            f"SELECT {day}, _r, sum(_n)::BIGINT FROM (SELECT {day}, {_STATELESS} AS _r, count(*) AS _n FROM {c} "
            f"GROUP BY ALL UNION ALL SELECT c.{day}, NULL, -count(*) {dups} "
            f"UNION ALL SELECT c.{day}, '{_DUPLICATE}', count(*) {dups}) GROUP BY ALL HAVING sum(_n) > 0"
        )
        .fetchall()
    )
    return [(str(day), reason, int(count)) for day, reason, count in rows]


def outputs(session: Any, dataset: Dataset) -> tuple[Any, Any]:
    """The processed and the quarantine rows, as DataFrames the writer copies."""
    conn = duckdb_connection(session)
    n = names(dataset)
    sql = dataset_sql(dataset)
    conn.execute(f"CREATE OR REPLACE VIEW {ident(n['processed'])} AS {sql.processed}")
    conn.execute(f"CREATE OR REPLACE VIEW {ident(n['quarantine'])} AS {sql.quarantine}")
    return DuckDBTable(session, n["processed"]), DuckDBTable(session, n["quarantine"])


def release(session: Any, dataset: Dataset) -> None:
    """Drop what the job kept for ``dataset``."""
    conn = duckdb_connection(session)
    n = names(dataset)
    for view in ("processed", "quarantine", "good", "bad", "marked", "claims"):
        conn.execute(f"DROP VIEW IF EXISTS {ident(n[view])}")
    for table in ("dups", "classified"):
        conn.execute(f"DROP TABLE IF EXISTS {ident(n[table])}")
