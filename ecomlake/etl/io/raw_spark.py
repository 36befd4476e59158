"""Raw reader on Spark (the Glue engine): the validator's framer, run inside the Spark tasks.

Each file is one task: ``mapInArrow`` streams it (a local path, or the S3 object body) through
``ecomlake.ingest.framing.RecordReader`` and hands Spark its Arrow batches, so Spark reads
the records the validator counted, with their line numbers, without a round trip through
the driver. A file the framer refuses yields one marker row instead of its rows; the
driver drops what that file yielded and rejects it whole (see ``raw``).
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

import pyarrow as pa

from ecomlake.contract import PARTITION_KEY, Dataset
from ecomlake.etl.engines import api
from ecomlake.etl.io.lake import LakeIO, RawFile
from ecomlake.etl.io.raw import ERROR, FILE, LINE, file_batches, raw_columns, record_rejections, tagged_schema
from ecomlake.exceptions import FileRejectedError

REJECTION: Final = "_rejection"  # set on a file's marker row when the framer refused it


def _marked_schema(columns: Sequence[str]) -> pa.Schema:
    return tagged_schema(columns).append(pa.field(REJECTION, pa.string()))


def frame_files(batches: Iterator[pa.RecordBatch], dataset: str, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: (key, uri, date) rows in, each file's records out."""
    from ecomlake.ingest.streams import open_uri

    ds = Dataset(dataset)
    columns = raw_columns(ds)
    schema = _marked_schema(columns)
    for files in batches:
        for key, uri, day in zip(*(files.column(i).to_pylist() for i in range(3)), strict=True):
            try:
                with open_uri(uri) as raw:
                    for batch in file_batches(raw, key, day, ds, max_bytes):
                        nulls = pa.nulls(batch.num_rows, pa.string())
                        yield pa.RecordBatch.from_arrays([*batch.columns, nulls], schema=schema)
            except FileRejectedError as err:
                why = json.dumps({"rule": str(err.rule), "detail": err.detail, "line": err.line, "column": err.column})
                marker = {name: pa.nulls(1, field.type) for name, field in zip(schema.names, schema, strict=True)}
                marker[FILE] = pa.array([key], pa.string())
                marker[PARTITION_KEY] = pa.array([day], pa.string())
                marker[REJECTION] = pa.array([why], pa.string())
                yield pa.RecordBatch.from_arrays(list(marker.values()), schema=schema)


def _spark_schema(T: Any, columns: Sequence[str], marked: bool) -> Any:
    fields = [T.StructField(c, T.StringType(), True) for c in (*columns, ERROR)]
    fields += [
        T.StructField(LINE, T.LongType(), True),
        T.StructField(FILE, T.StringType(), True),
        T.StructField(PARTITION_KEY, T.StringType(), True),
    ]
    if marked:
        fields.append(T.StructField(REJECTION, T.StringType(), True))
    return T.StructType(fields)


def read_raw_spark(spark: Any, lake: LakeIO, dataset: Dataset, files: Sequence[RawFile]) -> Any:
    from ecomlake.ingest.validator import max_file_bytes

    F, T, _ = api(spark)
    columns = raw_columns(dataset)
    if not files:
        return spark.createDataFrame([], _spark_schema(T, columns, False))
    listed = [(f.key, lake.uri(f.key), f.date) for f in files]
    inputs = spark.sparkContext.parallelize(listed, len(listed)).toDF(
        T.StructType([T.StructField(name, T.StringType(), False) for name in ("key", "uri", "date")])
    )
    limit, name = max_file_bytes(), dataset.value

    def body(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return frame_files(batches, name, limit)

    # Read once, in the tasks; the rows stay on the executors for the jobs that classify them.
    framed = inputs.mapInArrow(body, _spark_schema(T, columns, True)).localCheckpoint(eager=True)
    markers = framed.where(F.col(REJECTION).isNotNull()).select(FILE, REJECTION).collect()
    refused = []
    for key, why in markers:
        found = json.loads(why)
        file = next(f for f in files if f.key == key)
        refused.append((file, FileRejectedError(found["rule"], found["detail"], found["line"], found["column"])))
    record_rejections(lake, refused)
    kept = framed.where(~F.col(FILE).isin(*[f.key for f, _ in refused])) if refused else framed
    return kept.drop(REJECTION)
