"""`ecomlake generate` on the command line: a summary on success, one clear line on bad input."""

from __future__ import annotations

import json

import pytest

from ecomlake.cli import run
from ecomlake.exceptions import InvalidArgumentError, InvalidDateError
from ecomlake.generate import generate

SMALL_ARGS = ["--days", "2", "--transactions", "200", "--products", "30", "--clickstream", "300", "--reviews", "20"]


def test_generate_writes_files_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "gen"
    code = run(["generate", "--out", str(out), *SMALL_ARGS, "--seed", "3", "--bad-rate", "0.05"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3
    assert manifest["days"] == 2
    assert manifest["bad_rate"] == 0.05
    assert (out / "transactions/date=2025-01-01/transactions.csv").is_file()
    for dataset in ("transactions", "products", "clickstream", "reviews"):
        assert dataset in captured.out
    assert str(manifest["counts"]["transactions"]) in captured.out
    assert captured.err == ""


def test_default_out_is_generated_dir_of_the_lake(tmp_path, capsys):
    lake = tmp_path / "lake"
    assert run(["generate", "--lake", str(lake), *SMALL_ARGS]) == 0
    assert (lake / "_generated" / "manifest.json").is_file()
    assert "_generated" in capsys.readouterr().out


def test_cli_and_api_write_the_same_bytes(tmp_path, capsys):
    assert run(["generate", "--out", str(tmp_path / "cli"), *SMALL_ARGS, "--seed", "9"]) == 0
    generate(tmp_path / "api", days=2, transactions=200, products=30, clickstream=300, reviews=20, seed=9)
    for rel in json.loads((tmp_path / "api/manifest.json").read_text())["files"]:
        assert (tmp_path / "cli" / rel).read_bytes() == (tmp_path / "api" / rel).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "error: --days must be a positive integer, got 0"),
        (["--days", "-2"], "error: --days must be a positive integer, got -2"),
        (["--transactions", "0"], "error: --transactions must be a positive integer, got 0"),
        (["--products", "-1"], "error: --products must be a positive integer, got -1"),
        (["--clickstream", "0"], "error: --clickstream must be a positive integer, got 0"),
        (["--reviews", "0"], "error: --reviews must be a positive integer, got 0"),
        (["--customers", "0"], "error: --customers must be a positive integer, got 0"),
        (["--bad-rate", "1.5"], "error: --bad-rate must be a number in [0, 1], got 1.5"),
        (["--bad-rate", "-0.1"], "error: --bad-rate must be a number in [0, 1], got -0.1"),
        (["--seed", "-1"], "error: --seed must be a non-negative integer, got -1"),
        (["--start", "2025-13-01"], "error: invalid date '2025-13-01'; no such calendar day"),
        (["--start", "01/02/2025"], "error: invalid date '01/02/2025'; expected YYYY-MM-DD"),
        (["--days", "5", "--transactions", "3"], "error: --transactions must be at least --days (5)"),
        (["--days", "100000"], "error: --days must be at most 3660"),
        (["--start", "9999-12-30", "--days", "5"], "error: --start 9999-12-30 plus 5 days runs past year 9999"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    code = run(["generate", "--out", str(out), *args])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith(message)
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    assert not out.exists()  # validated before anything is written


@pytest.mark.parametrize("args", [["--transactions", "abc"], ["--bad-rate", "lots"], ["--bogus", "1"]])
def test_unparseable_options_print_one_line_and_exit_2(tmp_path, capsys, args):
    code = run(["generate", "--out", str(tmp_path / "never"), *args])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error: ")
    assert captured.err.count("\n") == 1


def test_api_raises_the_same_typed_errors(tmp_path):
    with pytest.raises(InvalidDateError):
        generate(tmp_path, start="2025-02-30")
    with pytest.raises(InvalidArgumentError, match="--bad-rate"):
        generate(tmp_path, bad_rate=2)
    with pytest.raises(InvalidArgumentError, match=r"--products must be a positive integer, got 1\.5"):
        generate(tmp_path, products=1.5)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
