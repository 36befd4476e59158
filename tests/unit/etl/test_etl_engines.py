"""The engine helpers: sqlframe's dialect lookup made constant-time, without changing what it renders."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest


def test_building_duckdb_expressions_imports_no_dialect_module_again(monkeypatch) -> None:
    # sqlglot 30.29's Dialect.classes re-imports every dialect module on each access, and
    # sqlframe asks it once per function call it builds: the transaction rules made 27,000
    # imports. After the fix, building expressions imports nothing.
    from ecomlake.etl.engines import duckdb_api

    F = duckdb_api().F

    def build(i: int) -> object:
        return F.when(F.col(f"c{i}").rlike("^[0-9]+$"), F.lit(i)).otherwise(F.concat(F.col("a"), F.lit("b")))

    build(0)  # the first lookup of the dialect's name may import
    calls: list[str] = []
    real = importlib.import_module

    def counting(name: str, package: str | None = None):
        calls.append(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", counting)
    for i in range(20):
        build(i)
    assert [name for name in calls if name.startswith("sqlglot.dialects")] == []


def test_rendered_sql_is_what_sqlframe_renders_without_the_fix() -> None:
    # The same expression rendered in a fresh interpreter with and without the fix.
    program = textwrap.dedent(
        """
        import sys
        if sys.argv[1] == "fixed":
            from ecomlake.etl.engines import duckdb_api
            F = duckdb_api().F
        else:
            import sqlframe.duckdb.functions as F
        expr = F.when(F.col("q").rlike("^-?[0-9]+$"), F.col("q").cast("int")).otherwise(F.lit(None))
        print(F.coalesce(expr, F.lit(0)).alias("x").expression.sql(dialect="duckdb", identify=True))
        """
    )
    out = {
        mode: subprocess.run(
            [sys.executable, "-c", program, mode], capture_output=True, text=True, check=True
        ).stdout.strip()
        for mode in ("fixed", "plain")
    }
    assert out["fixed"] == out["plain"]
    assert out["fixed"] == (
        'COALESCE(CASE WHEN REGEXP_MATCHES("q", \'^-?[0-9]+$\') THEN CAST("q" AS INT) ELSE NULL END, 0) AS "x"'
    )


def test_the_first_lookup_of_a_loaded_dialect_imports_no_other_dialect() -> None:
    # The first full lookup imports every sqlglot dialect module (0.07-0.17 s a process);
    # a dialect already loaded is named from the registry. In a fresh interpreter, so that
    # no other test has loaded the modules already.
    program = textwrap.dedent(
        """
        import sys
        from ecomlake.etl.engines import duckdb_api
        duckdb_api()
        from sqlframe.base import util
        from sqlglot.dialects.duckdb import DuckDB
        from sqlglot.dialects.spark import Spark
        before = {m for m in sys.modules if m.startswith("sqlglot.dialects.")}
        names = [util.dialect_to_string(DuckDB()), util.dialect_to_string(Spark())]
        after = {m for m in sys.modules if m.startswith("sqlglot.dialects.")}
        print(",".join(names), sorted(after - before))
        """
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "duckdb,spark []"


def test_a_duckdb_table_is_written_and_kept_without_sqlframe_and_is_a_dataframe_when_used(
    tmp_path, monkeypatch
) -> None:
    """``DuckDBTable``: the writer and ``materialize`` read it by name; as a DataFrame it is ``session.table``."""
    from sqlframe.duckdb import DuckDBDataFrame

    from ecomlake.etl import io
    from ecomlake.etl.engines import DuckDBTable, api, duckdb_session, is_sqlframe

    session = duckdb_session()
    conn = session._conn
    conn.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a', '2025-01-01'), (2, 'b', '2025-01-02')) v(id, x, date)"
    )
    conn.execute("CREATE TABLE u AS SELECT * FROM (VALUES (1, 10), (2, 20)) v(id, n)")
    lazy, other = DuckDBTable(session, "t"), DuckDBTable(session, "u")
    assert is_sqlframe(lazy)

    # Writing it and keeping it never describe it through sqlframe.
    real_table = type(session).table
    monkeypatch.setattr(type(session), "table", lambda *_a: pytest.fail("sqlframe described a table"))
    assert io.duckdb_sql(lazy) == 'SELECT * FROM "t"'
    kept = io.materialize(lazy, "t_kept")
    assert type(kept) is DuckDBTable
    assert conn.execute('SELECT * FROM "t_kept" ORDER BY id').fetchall() == [
        (1, "a", "2025-01-01"),
        (2, "b", "2025-01-02"),
    ]
    monkeypatch.setattr(type(session), "table", real_table)

    # Used as a DataFrame (a method, an argument to one, an isinstance check), it is one.
    assert isinstance(lazy, DuckDBDataFrame)
    assert lazy.columns == ["id", "x", "date"]
    F = api(session).F
    joined = lazy.join(other, on="id").where(F.col("n") > 10).select("x", "n")
    assert joined.collect()[0].asDict() == {"x": "b", "n": 20}
