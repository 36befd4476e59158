"""The validator's row classification: the ETL's rule expressions, run on DuckDB over Arrow batches.

The rules are defined once, as DataFrame column expressions in ``ecomlake.etl.cleaning``
(generated from ``ecomlake.schemas``). The ETL applies them through sqlframe (DuckDB) or
Spark; here the same expressions are rendered once per dataset to DuckDB SQL and run on
each batch the framer yields, so the validator and the ETL cannot disagree on a row.

Per batch: the stateless rules name each bad row's first broken rule (counts per reason,
the first examples by line); the good rows' keys go to a table, and at the end the
duplicate rule (``cleaning.duplicate_flag``, the ETL's window) marks every row whose key
an earlier good row of the file already claimed. DuckDB spills that table to disk past
``memory_limit``, so the validator's memory does not grow with the file. Several files of
a dataset may be classified together (``GroupClassifier``, what ``ingest`` does with a
tree of small files), each row tagged with its file: every figure stays per file.
"""

# ruff: noqa: N806 -- F and Window are the PySpark aliases (functions, Window)

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Final

import numpy as np
import pyarrow as pa

from ecomlake.contract import Dataset, parse_dataset
from ecomlake.ingest.framing import ERROR, LINE, batch_schema
from ecomlake.ingest.report import EXAMPLES_PER_REASON
from ecomlake.ingest.rules import MAX_VALUE_CHARS
from ecomlake.schemas import RAW_SCHEMAS, RawSchema, Reason
from ecomlake.sqlcache import disk_cached

_BATCH: Final = "raw_batch"
# Which file of a group a row comes from (GroupClassifier).
FILE: Final = "_file"
_CLASSIFIED: Final = "classified_batch"
_SEEN: Final = "seen_keys"
# What DuckDB may hold before it spills the key table to disk (the validator's bound).
MEMORY_LIMIT: Final = "64MB"
# Rows classified per DuckDB call: large enough that the per-query cost (a few ms) is small.
FLUSH_ROWS: Final = 200_000


def shown(value: Any) -> str | None:
    """A value as quoted in a report: the raw text, cut to ``MAX_VALUE_CHARS``."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."


@dataclass(frozen=True, slots=True)
class RowFault:
    """Why one row is bad: the rule, the column (when one is to blame), the value found."""

    reason: Reason
    column: str | None
    value: str | None
    detail: str
    line: int = 0


@dataclass(frozen=True)
class _Compiled:
    """One dataset's rules as DuckDB SQL over ``raw_batch``."""

    classify: str  # _line, _check, _reason, _key<i>, __<key column>, _message, _value
    checks: tuple[tuple[str, str | None], ...]  # (reason, column) of each check, in order
    keys: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Compiled:
        checks = tuple((str(reason), None if column is None else str(column)) for reason, column in data["checks"])
        return cls(str(data["classify"]), checks, int(data["keys"]))


def _sql(columns: Iterable[Any], source: Any) -> Any:
    from sqlglot import exp

    return exp.select(exp.Star(), *(c.expression for c in columns)).from_(source)


def facts_stage(schema: RawSchema, source: Any, *, hint: str | None = None) -> Any:
    """``source`` with the normalised text, the value checks and the numbers the rules read.

    ``hint``: a column of ``source`` that already says which rows are plain (``cleaning.plain_column``).
    """
    from ecomlake.etl import cleaning
    from ecomlake.etl.engines import duckdb_api

    F = duckdb_api().F
    stage = _sql([cleaning.plain_column(F, schema, hint)], source).subquery("p")
    stage = _sql(cleaning.normalized_columns(F, schema), stage).subquery("n")
    stage = _sql(cleaning.form_columns(F, schema), stage).subquery("f")
    return _sql(cleaning.number_columns(F, schema), stage).subquery("v")


@cache
@disk_cached("validator-rules", asdict, _Compiled.from_json)
def compiled(dataset: Dataset) -> _Compiled:
    """Render the ETL's rule expressions for ``dataset`` to DuckDB SQL (once per process, and read
    from the SQL cache by the processes after the first)."""
    from sqlglot import exp

    from ecomlake.etl import cleaning
    from ecomlake.etl.engines import duckdb_api

    F = duckdb_api().F
    schema = RAW_SCHEMAS[dataset]
    checks = cleaning.row_checks(F, schema)
    keys = cleaning.key_columns(F, schema)
    stage = facts_stage(schema, _BATCH)
    final = _sql(
        [
            cleaning.check_index(F, checks).alias("_check"),
            cleaning.reason_of(F, checks).alias("_reason"),
            *[key.alias(f"_key{i}") for i, key in enumerate(keys)],
        ],
        stage,
    )

    def case(values: list[Any]) -> Any:
        out = None
        for i, value in enumerate(values):
            cond = F.col("_check") == F.lit(i)
            out = F.when(cond, value) if out is None else out.when(cond, value)
        return out

    # The message and the value to blame are worded in the same pass, for the bad rows only
    # (DuckDB evaluates a CASE branch only for the rows that reach it): a second query over
    # the few rows shown as examples cost as much to plan as the classification itself.
    bad = F.col("_reason").isNotNull()
    message = F.when(bad, case([item.message for item in checks]))
    value = F.when(bad, case([F.col(item.column) if item.column else F.lit(None).cast("string") for item in checks]))
    narrow = [
        F.col(FILE),
        F.col(LINE),
        F.col("_check"),
        F.col("_reason"),
        *(F.col(f"_key{i}") for i in range(len(keys))),
        *(F.col(f"__{k}") for k in schema.primary_key),
        message.alias("_message"),
        value.alias("_value"),
    ]
    classify_sql = exp.select(*(c.expression for c in narrow)).from_(final.subquery("c"))
    return _Compiled(
        classify_sql.sql(dialect="duckdb", identify=True),
        tuple((item.reason.value, item.column) for item in checks),
        len(keys),
    )


@cache
@disk_cached("validator-duplicates", str, str)
def _duplicates_sql(dataset: Dataset) -> str:
    """Rows of the key table that repeat an earlier row's key (the ETL's duplicate rule)."""
    from sqlglot import exp

    from ecomlake.etl import cleaning
    from ecomlake.etl.engines import duckdb_api

    F, _, Window = duckdb_api()

    count = len(RAW_SCHEMAS[dataset].primary_key)
    keys = [F.col(f"_key{i}") for i in range(count)]
    flag = cleaning.duplicate_flag(F, Window, keys, [F.col(FILE)], [F.col(LINE).asc()]).alias("_dup")
    inner = _sql([flag], _SEEN).subquery("d")
    return exp.select(exp.Star()).from_(inner).where("_dup").sql(dialect="duckdb", identify=True)


def prepare(datasets: Iterable[Dataset]) -> None:
    """Render the rules of ``datasets`` now, in this process.

    Rendering costs a few hundred milliseconds per dataset (sqlglot, sqlframe); a process
    that is about to fork validation workers renders once, and every worker inherits the
    rendered SQL instead of rendering it again.
    """
    import duckdb  # noqa: F401 -- imported once, before the fork, for the same reason

    # Arrow imports pandas (0.2 s) the first time it converts a NumPy array, as the framer does.
    pa.array(np.zeros(1, dtype=bool))

    for dataset in set(datasets):
        compiled(dataset)
        _duplicates_sql(dataset)


def _key_text(count: int) -> str:
    """The key parts as compared (trimmed text; timestamps as instants), for a report's example."""
    return ", ".join(f'CAST("_key{i}" AS VARCHAR)' for i in range(count))


_connections: dict[int, Any] = {}


def _close_connections() -> None:
    # A process that forks (ingest lands a tree with one worker per core) must not hold a live
    # DuckDB connection: its threads and locks do not survive the fork.
    for conn in _connections.values():
        conn.close()
    _connections.clear()


os.register_at_fork(before=_close_connections)


def _connection() -> Any:
    """This process's DuckDB connection for validation (a fork gets its own: one is never shared)."""
    import duckdb

    pid = os.getpid()
    conn = _connections.get(pid)
    if conn is None:
        conn = duckdb.connect()
        conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        conn.execute("SET threads = 1")
        conn.execute("SET preserve_insertion_order = false")
        spill = os.path.join(tempfile.gettempdir(), f"ecomlake-validate-{pid}")
        conn.execute("SET temp_directory = ?", [spill])
        _connections.clear()
        _connections[pid] = conn
    return conn


@dataclass
class Classified:
    """What the rules found in one file's records."""

    valid_rows: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    examples: list[RowFault] = field(default_factory=list)


def _first_examples(examples: list[RowFault]) -> list[RowFault]:
    """The first ``EXAMPLES_PER_REASON`` examples of each reason, by line."""
    kept: dict[str, int] = {}
    out = []
    for fault in sorted(examples, key=lambda f: f.line):
        if kept.get(fault.reason.value, 0) < EXAMPLES_PER_REASON:
            kept[fault.reason.value] = kept.get(fault.reason.value, 0) + 1
            out.append(fault)
    return out


def _tagged(batch: pa.RecordBatch, file: int) -> pa.RecordBatch:
    """``batch`` with the number of the file its rows come from (``_file``)."""
    return batch.append_column(FILE, pa.array(np.full(batch.num_rows, file, dtype=np.int32)))


class GroupClassifier:
    """Classifies the batches of one or more files of a dataset; ``finish`` adds the duplicates.

    Files are told apart by a number the caller gives (``_file``): each DuckDB statement
    costs a few milliseconds whatever its rows, so many small files are classified in one
    statement per ``FLUSH_ROWS`` rows, not several statements each. Duplicates are looked
    for within a file only, and every figure is kept per file.
    """

    def __init__(self, dataset: Dataset | str) -> None:
        self.dataset = parse_dataset(str(dataset))
        self.schema = RAW_SCHEMAS[self.dataset]
        self.rules = compiled(self.dataset)
        self.conn = _connection()
        self.results: dict[int, Classified] = {}
        self._stateless_good: dict[int, int] = {}
        key_cols = ", ".join(f'"_key{i}"' for i in range(self.rules.keys))
        self._keep = f'SELECT "{FILE}", "{LINE}", {key_cols} FROM {_CLASSIFIED} WHERE "_reason" IS NULL'
        self._seen_made = False
        self._pending: list[tuple[int, pa.RecordBatch]] = []  # (file, batch tagged with it)
        self._pending_rows = 0

    def add(self, batch: pa.RecordBatch, file: int = 0) -> None:
        """Queue a batch of file ``file``; the rules run once enough rows are queued."""
        self.results.setdefault(file, Classified())
        self._pending.append((file, _tagged(batch, file)))
        self._pending_rows += batch.num_rows
        if self._pending_rows >= FLUSH_ROWS:
            self._flush()

    def discard(self, file: int) -> None:
        """Forget file ``file`` (rejected whole part way through): its queued rows, figures and keys."""
        kept = [(f, b) for f, b in self._pending if f != file]
        self._pending, self._pending_rows = kept, sum(b.num_rows for _, b in kept)
        self.results.pop(file, None)
        self._stateless_good.pop(file, None)
        if self._seen_made:
            self.conn.execute(f'DELETE FROM {_SEEN} WHERE "{FILE}" = ?', [file])

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches([b for _, b in self._pending])
        self._pending, self._pending_rows = [], 0
        self._classify(table)

    def _classify(self, batch: pa.Table | pa.RecordBatch) -> None:
        conn = self.conn
        conn.register(_BATCH, batch)
        try:
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {_CLASSIFIED} AS {self.rules.classify}")
            counts = conn.execute(f'SELECT "{FILE}", "_reason", count(*) FROM {_CLASSIFIED} GROUP BY ALL').fetchall()
            for file, reason, count in counts:
                if reason is None:
                    self._stateless_good[file] = self._stateless_good.get(file, 0) + int(count)
                else:
                    faults = self.results[file].faults
                    faults[reason] = faults.get(reason, 0) + int(count)
            for file, fault in self._explain(
                f'WHERE "_reason" IS NOT NULL QUALIFY row_number() OVER (PARTITION BY "{FILE}", "_reason" '
                f'ORDER BY "{LINE}") <= {EXAMPLES_PER_REASON}'
            ):
                self.results[file].examples.append(fault)
        finally:
            conn.unregister(_BATCH)
        if not self._seen_made:
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {_SEEN} AS {self._keep}")
            self._seen_made = True
        else:
            conn.execute(f"INSERT INTO {_SEEN} {self._keep}")

    def _explain(self, where: str) -> list[tuple[int, RowFault]]:
        """The faults of the classified rows ``where`` picks, worded by the rules, with their file."""
        return [
            (file, RowFault(Reason(reason), self.rules.checks[check][1], shown(value), str(message or ""), int(line)))
            for file, line, reason, check, message, value in self.conn.execute(
                f'SELECT "{FILE}", "{LINE}", "_reason", "_check", "_message", "_value" FROM {_CLASSIFIED} {where}'
            ).fetchall()
        ]

    def finish(self) -> dict[int, Classified]:
        """Every file's figures (the files given rows), duplicates included."""
        self._flush()
        duplicates: dict[int, int] = {}
        if self._seen_made:
            for file, fault, count in self._duplicate_faults(EXAMPLES_PER_REASON):
                duplicates[file] = count
                self.results[file].examples.append(fault)
        for file, result in self.results.items():
            if duplicates.get(file):
                result.faults[Reason.DUPLICATE_KEY.value] = duplicates[file]
            result.valid_rows = self._stateless_good.get(file, 0) - duplicates.get(file, 0)
            result.examples = _first_examples(result.examples)
        self.close()
        return self.results

    def _duplicate_faults(self, limit: int | None = None) -> list[tuple[int, RowFault, int]]:
        """The rows of the key table that repeat an earlier row's key in their file, in line order
        (the first ``limit`` of each file), with their file and how many its file has in all."""
        detail = f"({', '.join(self.schema.primary_key)}) seen earlier"
        cut = (
            "" if limit is None else f' QUALIFY row_number() OVER (PARTITION BY "{FILE}" ORDER BY "{LINE}") <= {limit}'
        )
        rows = self.conn.execute(
            f'SELECT "{FILE}", "{LINE}", concat_ws(\', \', {_key_text(self.rules.keys)}), '
            f'count(*) OVER (PARTITION BY "{FILE}") FROM ({_duplicates_sql(self.dataset)}){cut} '
            f'ORDER BY "{FILE}", "{LINE}"'
        ).fetchall()
        return [
            (
                int(file),
                RowFault(Reason.DUPLICATE_KEY, self.schema.primary_key[0], shown(value), detail, int(line)),
                int(count),
            )
            for file, line, value, count in rows
        ]

    def close(self) -> None:
        for table in (_CLASSIFIED, _SEEN):
            self.conn.execute(f"DROP TABLE IF EXISTS {table}")


def classify_records(dataset: Dataset | str, records: Iterable[Mapping[str, Any]]) -> list[RowFault | None]:
    """The fault of each record of one batch (a dict of text per column; ``_error`` for a
    record that does not parse), in order, duplicates included: what the validator and the
    ETL decide for them. For tests and documentation examples; files go through the validator.
    """
    ds = parse_dataset(str(dataset))
    columns = RAW_SCHEMAS[ds].column_names
    rows = list(records)
    data = {name: pa.array([row.get(name) for row in rows], pa.string()) for name in columns}
    data[ERROR] = pa.array([row.get(ERROR) for row in rows], pa.string())
    data[LINE] = pa.array(range(1, len(rows) + 1), pa.int64())
    batch = pa.RecordBatch.from_arrays(list(data.values()), schema=batch_schema(columns))
    classifier = GroupClassifier(ds)
    conn = classifier.conn
    conn.register(_BATCH, _tagged(batch, 0))
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {_CLASSIFIED} AS {classifier.rules.classify}")
        found: dict[int, RowFault | None] = dict.fromkeys(range(1, len(rows) + 1))
        for _file, fault in classifier._explain('WHERE "_reason" IS NOT NULL'):
            found[fault.line] = fault
    finally:
        conn.unregister(_BATCH)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {_SEEN} AS {classifier._keep}")
    for _file, fault, _count in classifier._duplicate_faults():
        found[fault.line] = fault
    classifier.close()
    return [found[i] for i in range(1, len(rows) + 1)]
