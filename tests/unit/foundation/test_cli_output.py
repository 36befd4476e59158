"""What the CLI prints, on a lake built the way a user builds one (generate -> ingest -> run).

Data is never markup, CSV cells are formula-safe, an unknown category is answered with the
real ones, the plan fits the terminal, progress off a terminal is plain lines as work happens,
``demo --lake`` names its lake in the hint, and Spark prints nothing of its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecomlake.cli import run
from ecomlake.commands import common
from ecomlake.commands.query import csv_safe

EVIL_NAME = '=HYPERLINK("http://evil.example","[bold]:x:[/bold]")'
EVIL_ID = "P000000001"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-day lake whose best-known product is named like a spreadsheet formula and rich markup."""
    root = tmp_path_factory.mktemp("cli-output")
    landing, lake = root / "landing", root / "lake"
    small = ["--days", "3", "--transactions", "900", "--clickstream", "600", "--reviews", "60", "--products", "40"]
    assert run(["generate", "--out", str(landing), *small]) == 0
    for path in landing.glob("products/date=*/products.json"):
        items = json.loads(path.read_text())
        for item in items:
            if item["product_id"] == EVIL_ID:
                item["name"] = EVIL_NAME
        path.write_text(json.dumps(items))
    assert run(["ingest", str(landing), "--lake", str(lake)]) == 0
    assert run(["run", "--all", "--lake", str(lake)]) == 0
    return lake


def test_csv_cells_that_spreadsheets_would_run_get_a_quote(built, capsys):
    capsys.readouterr()
    args = ["query", "top_products", "--format", "csv", "--param", "top_n=1000", "--lake", str(built)]
    assert run(args) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    names = {r["product_id"]: r["product_name"] for r in table}
    assert names[EVIL_ID] == "'" + EVIL_NAME
    assert all(not name.startswith(("=", "+", "-", "@")) for name in names.values())
    assert run([*args, "--csv-formulas"]) == 0
    raw = {r["product_id"]: r["product_name"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert raw[EVIL_ID] == EVIL_NAME


def test_negative_numbers_stay_numbers_in_csv(built, capsys):
    capsys.readouterr()
    assert run(["query", "revenue_trends", "--format", "csv", "--lake", str(built)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    changes = [r["revenue_change"] for r in rows if r["revenue_change"]]
    assert changes
    assert all(not c.startswith("'") for c in changes)
    assert csv_safe(-12.5) == -12.5
    assert csv_safe("-12.5") == "'-12.5"
    for prefix in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_safe(prefix + "1") == "'" + prefix + "1"
    assert csv_safe("a=1") == "a=1"


def test_data_prints_as_written_never_as_markup_or_emoji(built, capsys, monkeypatch):
    monkeypatch.setattr(common.console, "width", 400)
    capsys.readouterr()
    assert run(["query", "top_products", "--param", "top_n=1000", "--lake", str(built)]) == 0
    out = capsys.readouterr().out
    assert EVIL_NAME in out  # brackets, colons and quotes intact
    assert "\u274c" not in out  # the emoji rich substitutes for :x:


def test_rejection_messages_quote_data_literally(tmp_path, capsys):
    path = tmp_path / "reviews" / "date=2025-01-01" / "reviews.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "review_id,product_id,customer_id,rating,review_text,review_date\n"
        "R1,P1,C1,:x:,[bold]great[/bold],2025-01-01\n"
        "R2,P1,C1,5,fine,2025-01-01\n"
    )
    assert run(["ingest", str(path), "--lake", str(tmp_path / "lake")]) == 0
    out = capsys.readouterr().out
    assert "rating=':x:'" in out
    assert "\u274c" not in out


def test_an_unknown_or_miscased_category_is_answered_with_the_real_ones(built, capsys):
    capsys.readouterr()
    assert run(["query", "top_products", "--param", "category=electronics", "--lake", str(built)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: parameter 'category': 'electronics' is not a category in the lake; ")
    assert "did you mean 'Electronics'?" in err
    assert re.search(r"\(values: Beauty, Books, Clothing, Electronics, ", err)
    assert "\n" not in err
    assert run(["query", "top_products", "--param", "category=Electronics", "--lake", str(built)]) == 0


def test_explain_fits_the_terminal_or_goes_to_a_file(built, capsys, tmp_path):
    capsys.readouterr()
    assert run(["query", "product_recommendations", "--explain", "--lake", str(built)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "READ_PARQUET" in out
    assert "HASH_JOIN  (Join Type: " in out
    plan = tmp_path / "plan.txt"
    argv = ["query", "product_recommendations", "--explain", "--plan-file", str(plan), "--lake", str(built)]
    assert run(argv) == 0
    out = capsys.readouterr().out
    drawing = plan.read_text()
    assert "READ_PARQUET" in drawing
    assert max(len(line) for line in drawing.splitlines()) > 80  # DuckDB's own drawing is wide
    assert str(plan) in out.replace("\n", "")
    assert "READ_PARQUET" not in out


def test_run_off_a_terminal_prints_each_step_as_it_happens(built, capsys):
    capsys.readouterr()
    assert run(["run", "--date", "2025-01-02", "--lake", str(built)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    # A day this small takes the small-date step (every job, the merge and the audit in one).
    started = next(i for i, line in enumerate(lines) if line.endswith("small_date started"))
    finished = next(i for i, line in enumerate(lines) if re.search(r"small_date ok \(\d+\.\ds\)$", line))
    assert started < finished
    assert all(re.match(r"^\[ *\d+\.\ds\] ", line) for line in lines if "started" in line)
    assert "Run " in captured.out
    assert "SUCCEEDED" in captured.out
    assert captured.out.index("small_date started") < captured.out.index("SUCCEEDED")


def test_demo_hint_names_the_lake_it_built(tmp_path, capsys):
    lake = tmp_path / "my lake"
    small = ["--days", "2", "--transactions", "200", "--clickstream", "200", "--reviews", "10", "--products", "20"]
    assert run(["demo", *small, "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    hint = next(line for line in out.splitlines() if line.startswith("open it with: "))
    assert f"--lake '{lake.resolve()}'" in hint
    # The hint works as printed.
    command = hint.removeprefix("open it with: ").split("  ->  ")[0]
    assert command.startswith(".venv/bin/ecomlake dashboard --serve --lake ")


@pytest.mark.spark
def test_a_spark_session_prints_nothing(tmp_path):
    code = (
        "from ecomlake.etl.engines import spark_session\n"
        "s = spark_session(app_name='quiet', master='local[1]')\n"
        "assert s.range(5).count() == 5\n"
        "s.stop()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert "WARN" not in done.stderr
    assert "Setting default log level" not in done.stderr
    assert done.stderr.strip() == ""
