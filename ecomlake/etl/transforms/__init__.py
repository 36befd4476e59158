"""Pure DataFrame -> DataFrame transforms, one module per table family.

Every function here takes DataFrames and returns a DataFrame; none reads or writes, and
none imports an engine: ``ecomlake.etl.engines.api`` hands each one the functions of the
engine its input belongs to, so the same code runs on Spark and on DuckDB (sqlframe).
Each output ends with :func:`conform`, a ``select`` of exactly the schema's columns in
order and cast to their declared types -- the schema contract of ``ecomlake.schemas``.
"""

from ecomlake.etl.transforms.common import conform, price_band

__all__ = ["conform", "price_band"]
