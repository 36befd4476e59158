"""`ecomlake dq`: exit 0 on success or warnings, 1 on a critical failure, 2 on a bad argument."""

from __future__ import annotations

import json

import pytest

from ecomlake.cli import run
from ecomlake.commands import common

DAY = "2025-01-04"


def test_clean_lake_exits_zero_and_writes_the_report(build, lake, capsys):
    build.clean_day(DAY)
    code = run(["dq", "--date", DAY, "--lake", str(lake)])
    out = capsys.readouterr().out
    assert code == 0
    assert "PASSED 229 checks: 214 passed, 0 critical failed, 0 warnings, 15 skipped" in out
    assert (lake / "_reports" / "dq" / f"date={DAY}.json").is_file()
    assert (lake / "_reports" / "dq" / f"date={DAY}.html").is_file()


def test_critical_failure_exits_one(build, lake, capsys):
    txns = build.clean_day(DAY)["transactions"]
    txns[0]["customer_id"] = None
    build.write("transactions", txns, DAY)
    code = run(["dq", "--date", DAY, "--lake", str(lake), "--format", "json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 1
    assert (
        captured.err
        == f"error: data quality failed for {DAY}: 1 critical check(s): transactions.not_null.customer_id\n"
    )
    assert doc["passed"] is False
    assert doc["critical_failures"] == ["transactions.not_null.customer_id"]


def test_warning_only_exits_zero_and_lists_failed_checks(build, lake, capsys, monkeypatch):
    monkeypatch.setattr(common.console, "width", 200)
    build.clean_day(DAY)
    build.validation("transactions", DAY, "transactions.csv", ["coupon"])
    code = run(["dq", "--date", DAY, "--lake", str(lake), "--failed"])
    out = capsys.readouterr().out
    assert code == 0
    assert "transactions.schema_drift" in out
    assert "transactions.not_null" not in out  # --failed lists only failures
    assert "1 warnings" in out


def test_env_var_names_the_lake(build, lake, capsys, monkeypatch):
    build.clean_day(DAY)
    monkeypatch.setenv("ECOMLAKE_LAKE", str(lake))
    assert run(["dq", "--date", DAY, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["date"] == DAY


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2025-02-30"], "error: invalid date '2025-02-30'; no such calendar day"),
        (["--date", "yesterday"], "error: invalid date 'yesterday'; expected YYYY-MM-DD"),
        (["--date", DAY, "--format", "xml"], "error: --format must be table or json, got 'xml'"),
        (["--format", "json"], "error: Missing option '--date'."),
    ],
)
def test_bad_arguments_print_one_line_and_exit_two(lake, capsys, args, message):
    code = run(["dq", *args, "--lake", str(lake)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == message


def test_missing_lake_is_a_user_error(tmp_path, capsys):
    code = run(["dq", "--date", DAY, "--lake", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: no lake at ")
    assert "\n" not in err


def test_default_lists_only_failed_checks_and_all_lists_every_one(build, lake, capsys, monkeypatch):
    monkeypatch.setattr(common.console, "width", 200)
    build.clean_day(DAY)
    build.validation("transactions", DAY, "transactions.csv", ["coupon"])
    assert run(["dq", "--date", DAY, "--lake", str(lake)]) == 0
    default = capsys.readouterr().out
    assert "transactions.schema_drift" in default
    assert "WARN" in default
    assert "1 failed check(s)" in default
    assert "transactions.not_null.customer_id" not in default  # a passed check
    assert "PASS " not in default
    assert run(["dq", "--date", DAY, "--lake", str(lake), "--all"]) == 0
    everything = capsys.readouterr().out
    assert "all 229 checks" in everything
    assert "transactions.not_null.customer_id" in everything


def test_no_failures_says_so_instead_of_an_empty_table(build, lake, capsys):
    build.clean_day(DAY)
    assert run(["dq", "--date", DAY, "--lake", str(lake), "--failed"]) == 0
    out = capsys.readouterr().out
    assert "no failed checks (214 passed, 15 skipped; --all lists every one)" in out
    assert "┏" not in out.split("no failed checks")[0]  # no table before the sentence
    assert len(out.splitlines()) < 10


def test_check_details_are_printed_as_written_not_as_markup(build, lake, capsys):
    # A drifted column named like rich markup and an emoji code must print literally.
    build.clean_day(DAY)
    build.validation("transactions", DAY, "transactions.csv", ["[bold]coupon[/bold]", ":x:"])
    assert run(["dq", "--date", DAY, "--lake", str(lake)]) == 0
    out = capsys.readouterr().out.replace("\n", "").replace("│", "").replace(" ", "")
    assert "[bold]coupon[/bold]" in out
    assert ":x:" in out
    assert "\u274c" not in out  # the emoji rich would substitute for :x:
