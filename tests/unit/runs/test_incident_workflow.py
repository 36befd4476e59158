"""docs/operations.md's first case, followed command by command: a bad day stopped by the gate, found, fixed.

Three good days are published; a fourth lands with half its rows of an unknown status. The
run of it fails its audit and publishes nothing; ``run`` names the command that shows the
audit, ``status`` shows the failed run and the date still pending, ``dq --run`` shows what
the audit found, counted against the generator's manifest plus the rows added. The corrected
file is landed, ``run --pending`` publishes it, and the lake equals a clean backfill of the
good files: the failed run left nothing behind.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from runs_helpers import assert_same_lake

from ecomlake.cli import run
from ecomlake.generate import generate
from ecomlake.ingest import land_tree
from ecomlake.local.runner import run_pipeline

pytestmark = pytest.mark.integration

DAYS = ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]
BAD_DAY = DAYS[-1]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def status(capsys: pytest.CaptureFixture[str], lake: Path) -> dict[str, Any]:
    code, out, _err = cli(capsys, "status", "--lake", str(lake), "--format", "json")
    assert code == 0
    return json.loads(out)


def test_a_day_stopped_by_the_gate_is_found_fixed_and_published(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    generate(
        source,
        days=4,
        start=DAYS[0],
        transactions=1_200,
        products=30,
        clickstream=1_200,
        reviews=120,
        seed=3,
        bad_rate=0.03,
    )
    manifest = json.loads((source / "manifest.json").read_text())
    good = source / "transactions" / f"date={BAD_DAY}" / "transactions.csv"

    # The oracle: every good file landed and run at once.
    oracle = tmp_path / "oracle"
    land_tree(oracle, source)
    assert run_pipeline(oracle, DAYS).succeeded

    # The lake: three days published, then a damaged fourth: one added row per row, status "shipped".
    landing = tmp_path / "landing"
    shutil.copytree(source, landing, ignore=shutil.ignore_patterns(f"date={BAD_DAY}", "manifest.json"))
    lake = tmp_path / "lake"
    assert cli(capsys, "ingest", str(landing), "--lake", str(lake))[0] == 0
    assert cli(capsys, "run", "--all", "--lake", str(lake))[0] == 0
    rows = range(len(good.read_text().splitlines()) - 1)
    # Rows whose only fault is the status, so each is quarantined as unknown_enum and nothing else.
    added = [[f"TX-INCIDENT-{i:05d}", "C900001", "P900001", "1", "10.00", "10.00", BAD_DAY, "shipped"] for i in rows]
    damaged = tmp_path / "damaged" / "transactions.csv"
    damaged.parent.mkdir()
    damaged.write_text(good.read_text() + "".join(",".join(r) + "\n" for r in added))
    for dataset in ("products", "clickstream", "reviews"):
        folder = source / dataset / f"date={BAD_DAY}"
        assert cli(capsys, "ingest", str(folder), "--lake", str(lake))[0] == 0
    ingested = ["ingest", str(damaged), "--dataset", "transactions", "--date", BAD_DAY, "--lake", str(lake)]
    assert cli(capsys, *ingested)[0] == 0

    # The run fails its audit, publishes nothing, and says how to see the audit.
    code, out, err = cli(capsys, "run", "--pending", "--lake", str(lake))
    assert code == 1
    assert err.startswith("error: run failed at audit: DataQualityError: ")
    assert "transactions.quarantine_rate on 2025-01-04" in err
    hint = re.search(rf"^audit of {BAD_DAY}: (ecomlake dq --date {BAD_DAY} --run (\S+) --lake (\S+))$", out, re.M)
    assert hint, out
    run_id = hint.group(2)
    assert hint.group(3) == str(lake)

    state = status(capsys, lake)
    assert state["snapshot"] == 1
    assert state["pending"] == {BAD_DAY: "not published yet"}
    failed = state["runs"][0]
    assert (failed["run_id"], failed["status"], failed["failed_step"]) == (run_id, "FAILED", "audit")
    assert failed["dates"] == [BAD_DAY]
    assert state["stopped_by_gate"] == {"run_id": run_id, "dates": [BAD_DAY]}
    assert cli(capsys, "status", "--lake", str(lake))[1].splitlines()[-2:] == [
        f"the last run stopped at its quality gate on {BAD_DAY}: {hint.group(1)}",
        f"next: ecomlake run --pending --lake {lake}",
    ]

    # What the audit found: the day's quarantine is the manifest's faults plus every added row.
    code, out, _err = cli(capsys, "dq", "--date", BAD_DAY, "--run", run_id, "--lake", str(lake), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["passed"] is False
    expected = dict(manifest["faults_by_date"]["transactions"][BAD_DAY])
    expected["unknown_enum"] = expected.get("unknown_enum", 0) + len(added)
    assert report["quarantine"]["transactions"] == expected
    assert report["critical_failures"] == ["transactions.quarantine_rate"]
    # The same check on the published view knows nothing of the run: the date is not published.
    code, out, _err = cli(capsys, "dq", "--date", BAD_DAY, "--lake", str(lake), "--format", "json")
    assert "transactions" not in json.loads(out)["quarantine"]

    # The fix: land the corrected file over the damaged one, run what is pending.
    fixed = ["ingest", str(good), "--dataset", "transactions", "--date", BAD_DAY, "--replace", "--lake", str(lake)]
    assert cli(capsys, *fixed)[0] == 0
    assert status(capsys, lake)["pending"] == {BAD_DAY: "not published yet"}
    assert cli(capsys, "run", "--pending", "--lake", str(lake))[0] == 0

    state = status(capsys, lake)
    assert state["snapshot"] == 2
    assert state["pending"] == {}
    assert state["published_dates"] == DAYS
    assert state["stopped_by_gate"] is None
    assert [(r["status"], r["published"]) for r in state["runs"]] == [
        ("SUCCEEDED", 2),
        ("FAILED", None),
        ("SUCCEEDED", 1),
    ]
    assert_same_lake(lake, oracle)


def test_dq_of_a_run_that_has_no_audit_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = tmp_path / "lake"
    (lake / "_runs").mkdir(parents=True)
    code, _out, err = cli(capsys, "dq", "--date", BAD_DAY, "--run", "20250101T000000Z-00000000", "--lake", str(lake))
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: run 20250101T000000Z-00000000 has no data-quality report for {BAD_DAY} in {lake} "
        "(it stopped before its audit, or that date was not in it; ecomlake status lists the runs)"
    ]
    code, _out, err = cli(capsys, "dq", "--date", BAD_DAY, "--run", "../../etc", "--lake", str(lake))
    assert code == 2
    assert "invalid run id '../../etc'" in err
