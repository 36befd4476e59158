"""Local landing (`ingest_files`, `land_tree`) and the `ecomlake ingest` command."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ecomlake.cli import app, run
from ecomlake.exceptions import InvalidArgumentError, InvalidDateError, InvalidKeyError, UnknownDatasetError
from ecomlake.ingest import ingest_files, land_tree
from tests.unit.ingest.ingest_samples import (
    REVIEW_HEADER,
    clickstream_jsonl,
    products_array,
    reviews_csv,
    transactions_csv,
)

DAY = "2025-01-15"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_ingest_files_lands_validates_and_routes(lake: Path, src_dir: Path) -> None:
    source = write(src_dir / "transactions.csv", transactions_csv())
    before = snapshot(source)
    (result,) = ingest_files(lake, [source], "transactions", DAY)
    assert result.accepted
    assert result.copied
    assert result.key == f"raw/transactions/date={DAY}/transactions.csv"
    assert (lake / result.key).read_bytes() == transactions_csv()
    assert snapshot(source) == before
    assert result.event == {
        "dates": [DAY],
        "datasets": ["transactions"],
        "trigger": {"key": result.key, "etag": result.report.etag, "size": len(transactions_csv())},
    }
    assert (lake / result.report.report_key).is_file()  # type: ignore[operator]


def test_landing_the_same_bytes_again_is_a_no_op(lake: Path, src_dir: Path) -> None:
    source = write(src_dir / "reviews.csv", reviews_csv())
    (first,) = ingest_files(lake, [source], "reviews", DAY)
    target = lake / f"raw/reviews/date={DAY}/reviews.csv"
    landed = snapshot(target)
    (again,) = ingest_files(lake, [source], "reviews", DAY)
    assert not again.copied
    assert snapshot(target) == landed
    # The same ETag (the file's MD5), so the pipeline input names the same execution.
    assert first.event is not None
    assert again.event == first.event
    assert hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest() in json.dumps(again.event)


def test_a_different_file_is_not_written_over_raw_unless_asked(lake: Path, src_dir: Path) -> None:
    first = write(src_dir / "a" / "reviews.csv", reviews_csv())
    second = write(src_dir / "b" / "reviews.csv", (REVIEW_HEADER + "\nR9,P1,C1,4,,2025-01-15\n").encode())
    ingest_files(lake, [first], "reviews", DAY)
    with pytest.raises(InvalidArgumentError, match="already holds a different file"):
        ingest_files(lake, [second], "reviews", DAY)
    assert (lake / f"raw/reviews/date={DAY}/reviews.csv").read_bytes() == reviews_csv()
    (replaced,) = ingest_files(lake, [second], "reviews", DAY, replace=True)
    assert replaced.rows == 1


@pytest.mark.parametrize(
    ("dataset", "day", "error"),
    [("orders", DAY, UnknownDatasetError), ("reviews", "2025-02-30", InvalidDateError)],
)
def test_bad_arguments_land_nothing(lake: Path, src_dir: Path, dataset: str, day: str, error: type) -> None:
    source = write(src_dir / "reviews.csv", reviews_csv())
    with pytest.raises(error):
        ingest_files(lake, [source], dataset, day)
    assert list(lake.rglob("*")) == []


def test_missing_source_and_hidden_names_are_refused_before_landing(lake: Path, src_dir: Path) -> None:
    good = write(src_dir / "reviews.csv", reviews_csv())
    with pytest.raises(InvalidArgumentError, match="no such file"):
        ingest_files(lake, [good, src_dir / "missing.csv"], "reviews", DAY)
    hidden = write(src_dir / "_reviews.csv", reviews_csv())
    with pytest.raises(InvalidKeyError, match="starts with"):
        ingest_files(lake, [good, hidden], "reviews", DAY)
    assert list(lake.rglob("*")) == []


def test_land_tree_walks_a_generator_tree(lake: Path, tmp_path: Path) -> None:
    tree = tmp_path / "generated"
    write(tree / "manifest.json", b"{}")
    write(tree / "transactions" / "date=2025-01-01" / "transactions.csv", transactions_csv())
    write(tree / "transactions" / "date=2025-01-02" / "transactions.csv", b"oops\n")
    write(tree / "products" / "date=2025-01-01" / "products.json", products_array())
    write(tree / "clickstream" / "date=2025-01-01" / "clickstream.json", clickstream_jsonl())
    write(tree / "clickstream" / "date=2025-01-01" / ".clickstream.json.crc", b"\x00")
    results = land_tree(lake, tree)
    assert [(r.dataset, r.date, r.status) for r in results] == [
        ("clickstream", "2025-01-01", "accepted"),
        ("products", "2025-01-01", "accepted"),
        ("transactions", "2025-01-01", "accepted"),
        ("transactions", "2025-01-02", "rejected"),
    ]
    assert not (lake / "raw" / "manifest.json").exists()
    assert sorted({r.date for r in results if not r.rejected}) == ["2025-01-01"]


def test_land_tree_in_worker_processes_lands_the_same_as_serially(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecomlake.ingest.local as local

    tree = tmp_path / "generated"
    write(tree / "transactions" / "date=2025-01-01" / "transactions.csv", transactions_csv())
    write(tree / "transactions" / "date=2025-01-02" / "transactions.csv", b"oops\n")
    write(tree / "products" / "date=2025-01-01" / "products.json", products_array())
    serial = land_tree(tmp_path / "serial-lake", tree)
    monkeypatch.setattr(local, "PARALLEL_LANDING_BYTES", 0)  # any tree counts as big
    assert local._landing_workers([f.stat().st_size for f in tree.rglob("*.*")]) > 1 or (os.cpu_count() or 1) == 1

    parallel = land_tree(lake, tree)

    def summary(results):
        return [(r.dataset, r.date, r.file, r.status, r.rows, r.report.faults) for r in results]

    assert summary(parallel) == summary(serial)
    assert summary(parallel)[-1][3] == "rejected"
    landed = sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file())
    expected = sorted(
        p.relative_to(tmp_path / "serial-lake").as_posix() for p in (tmp_path / "serial-lake").rglob("*") if p.is_file()
    )
    assert landed == expected
    assert "quarantine/transactions/date=2025-01-02/transactions.csv.reason.json" in landed


def test_land_tree_refuses_unknown_folders(lake: Path, tmp_path: Path) -> None:
    write(tmp_path / "gen" / "orders" / "date=2025-01-01" / "orders.csv", b"a\n1\n")
    with pytest.raises(UnknownDatasetError):
        land_tree(lake, tmp_path / "gen")


# --------------------------------------------------------------------------- CLI


def cli_code(argv: list[str]) -> int:
    """Exit code of the command itself (``app`` returns it when not running standalone)."""
    from ecomlake.exceptions import EcomlakeError

    try:
        result = app(args=argv, prog_name="ecomlake", standalone_mode=False)
    except EcomlakeError:
        return 2
    return result if isinstance(result, int) else 0


def test_cli_ingest_prints_a_summary_and_exits_zero(lake: Path, src_dir: Path, capsys) -> None:
    source = write(src_dir / "transactions.csv", transactions_csv().replace(b",2,19.99,", b",x,19.99,"))
    before = snapshot(source)
    code = run(["ingest", str(source), "--dataset", "transactions", "--date", DAY, "--lake", str(lake)])
    out = capsys.readouterr().out
    assert code == 0
    assert "transactions.csv" in out
    assert "1 (bad_number 1)" in out
    assert "accepted" in out
    assert "bad_number (line 2, quantity='x')" in out
    assert snapshot(source) == before
    assert (lake / f"raw/transactions/date={DAY}/transactions.csv").read_bytes() == source.read_bytes()


def test_cli_ingest_exits_one_when_a_file_is_rejected(lake: Path, src_dir: Path, capsys) -> None:
    good = write(src_dir / "reviews.csv", reviews_csv())
    bad = write(src_dir / "reviews-2.csv", b"review_id\nR1\n")
    code = cli_code(["ingest", str(good), str(bad), "--dataset", "reviews", "--date", DAY, "--lake", str(lake)])
    captured = capsys.readouterr()
    assert code == 1
    assert "rejected: missing_columns" in captured.out
    assert f"quarantine/reviews/date={DAY}/reviews-2.csv" in captured.err
    reason = json.loads((lake / f"quarantine/reviews/date={DAY}/reviews-2.csv.reason.json").read_text())
    assert reason["rule"] == "missing_columns"
    assert bad.read_bytes() == b"review_id\nR1\n"


def test_cli_run_returns_one_for_a_rejected_file(lake: Path, src_dir: Path) -> None:
    bad = write(src_dir / "reviews.csv", b"review_id\nR1\n")
    assert run(["ingest", str(bad), "--dataset", "reviews", "--date", DAY, "--lake", str(lake)]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "orders", "--date", DAY], "unknown dataset 'orders'"),
        (["--dataset", "reviews", "--date", "15/01/2025"], "invalid date '15/01/2025'"),
    ],
)
def test_cli_bad_arguments_are_one_line_exit_two(lake: Path, src_dir: Path, capsys, args, message) -> None:
    source = write(src_dir / "reviews.csv", reviews_csv())
    code = run(["ingest", str(source), *args, "--lake", str(lake)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert list(lake.rglob("*")) == []


def test_cli_uses_the_lake_from_the_environment(tmp_path: Path, src_dir: Path, monkeypatch) -> None:
    lake = tmp_path / "env-lake"
    monkeypatch.setenv("ECOMLAKE_LAKE", str(lake))
    source = write(src_dir / "clickstream.json", clickstream_jsonl())
    assert run(["ingest", str(source), "--dataset", "clickstream", "--date", DAY]) == 0
    assert (lake / f"raw/clickstream/date={DAY}/clickstream.json").is_file()


def test_landing_in_workers_renders_the_rules_before_forking(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The workers inherit the rendered SQL: rendering in each worker cost a few hundred
    # milliseconds per dataset and process.
    import ecomlake.ingest.local as local
    from ecomlake.ingest import classifier

    tree = tmp_path / "generated"
    write(tree / "transactions" / "date=2025-01-01" / "transactions.csv", transactions_csv())
    write(tree / "products" / "date=2025-01-01" / "products.json", products_array())
    monkeypatch.setattr(local, "PARALLEL_LANDING_BYTES", 0)
    classifier.compiled.cache_clear()
    classifier._duplicates_sql.cache_clear()
    land_tree(lake, tree)
    assert classifier.compiled.cache_info().currsize == 2  # rendered here, in the parent
    assert classifier._duplicates_sql.cache_info().currsize == 2
