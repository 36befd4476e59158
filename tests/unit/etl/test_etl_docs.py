"""docs/DATA_DICTIONARY.md is generated from the schemas and committed up to date."""

from __future__ import annotations

from ecomlake.etl import dictionary
from ecomlake.etl.summary import RunSummary
from ecomlake.schemas import RAW_SCHEMAS, TABLES


def test_committed_data_dictionary_is_up_to_date() -> None:
    committed = dictionary.DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == dictionary.render(), "run `python -m ecomlake.etl.dictionary` and commit the result"


def test_data_dictionary_names_every_table_and_column() -> None:
    text = dictionary.render()
    for name, schema in TABLES.items():
        section = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
        assert schema.grain in section
        for column in schema.column_names:
            assert f"| `{column}` |" in section, (name, column)
    for dataset in RAW_SCHEMAS:
        assert f"### `{dataset}` (raw)" in text


def test_run_summary_round_trips_and_checks_conservation() -> None:
    summary = RunSummary(
        "transaction_etl", "transactions", "2025-01-01", 10, 7, 3, 1, {"duplicate_key": 1, "bad_date": 2}
    )
    data = summary.to_dict()
    assert list(data["quarantined_by_reason"]) == ["bad_date", "duplicate_key"]
    assert RunSummary.from_dict(data) == summary
    assert summary.conserved
    assert not RunSummary("j", "t", "2025-01-01", 10, 7, 2).conserved
