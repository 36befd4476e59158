"""The audit of a run: its own view (published + its versions), curated tables included, a verdict publication needs."""

from __future__ import annotations

import json

import pytest

from ecomlake.contract import Job
from ecomlake.dq import run_checks
from ecomlake.dq.checks import Status
from ecomlake.exceptions import DataQualityError
from ecomlake.runs.audit import (
    NothingToAuditError,
    audit_run,
    check_verdict,
    failure_message,
    read_verdict,
    touched_dates,
)
from ecomlake.runs.publish import publish_run
from ecomlake.snapshots import Changes, load_published
from ecomlake.storage import LocalStorage

D1, D2 = "2025-01-04", "2025-01-05"
RUN = "run-0002"


def _verdict(lake) -> dict:
    return json.loads((lake / "_runs" / RUN / "audit.json").read_text())


def test_touched_dates_are_every_partition_and_computation_of_the_run():
    changes = Changes()
    changes.set_partition("curated/fact_sales", "2025-01-07", "r1")
    changes.set_partition("quarantine/reviews", "2025-01-02", None)  # emptied counts too
    changes.set_whole("curated/dim_customers", "r1")
    changes.set_input("transactions", "2025-01-05", "fp", "r1")
    assert touched_dates(changes) == ["2025-01-02", "2025-01-05", "2025-01-07"]


def test_failure_message_names_five_failures_and_counts_the_rest():
    failures = [(f"2025-01-0{i}", f"t.check{i}", f"{i} bad") for i in range(1, 8)]
    assert failure_message(failures) == (
        "7 critical data-quality check(s) failed, nothing was published: t.check1 on 2025-01-01: 1 bad; "
        "t.check2 on 2025-01-02: 2 bad; t.check3 on 2025-01-03: 3 bad; t.check4 on 2025-01-04: 4 bad; "
        "t.check5 on 2025-01-05: 5 bad; and 2 more"
    )


def test_a_broken_dimension_fails_the_runs_audit_and_nothing_is_published(build, run_builder, lake):
    build.clean_day(D1)
    published = load_published(LocalStorage(lake))
    run = run_builder(RUN)
    run.clean_day(D2)
    customers = [c for c in run.dim_customers(D2) if c["customer_id"] != "C001"]
    run.write("dim_customers", customers)  # the merge "lost" a customer who bought on D2

    with pytest.raises(DataQualityError) as err:
        audit_run(lake, RUN)

    # 3 of D2's 10 sales are C001's (i % 4 == 1: rows 1, 5, 9).
    lost = "3 of 10 rows (30.00%, 1 distinct customer_id) not in dim_customers.customer_id"
    assert str(err.value) == (
        "1 critical data-quality check(s) failed, nothing was published: "
        f"fact_sales.referential_integrity.customer_id on {D2}: {lost}"
    )
    verdict = _verdict(lake)
    assert verdict == {
        "dates": [D2],
        "checks": 229,
        "critical_failed": 1,
        "warnings": 0,
        "passed": False,
        "engine": "duckdb",
        "run_id": RUN,
        "failures": [{"date": D2, "check": "fact_sales.referential_integrity.customer_id", "detail": lost}],
        "warned": [],
        "reports": {D2: f"_runs/{RUN}/dq/date={D2}.json"},
    }
    report = json.loads((lake / "_runs" / RUN / "dq" / f"date={D2}.json").read_text())
    assert report["critical_failures"] == ["fact_sales.referential_integrity.customer_id"]
    check = next(c for c in report["checks"] if c["id"] == "fact_sales.referential_integrity.customer_id")
    assert check["samples"] == [{"customer_id": "C001"}]

    storage = LocalStorage(lake)
    with pytest.raises(DataQualityError, match="1 critical data-quality check"):
        publish_run(storage, RUN, published.seq)
    assert load_published(storage) == published  # readers still see the previous publication
    assert not (lake / "_reports" / "dq" / f"date={D2}.json").exists()


def test_a_passing_audit_lets_the_run_publish(build, run_builder, lake):
    build.clean_day(D1)
    base = load_published(LocalStorage(lake)).seq
    run = run_builder(RUN)
    run.clean_day(D2)

    audit = audit_run(lake, RUN)

    assert audit.passed
    assert audit.summary() == {
        "dates": [D2],
        "checks": 229,
        "critical_failed": 0,
        "warnings": 0,
        "passed": True,
        "engine": "duckdb",
    }
    assert check_verdict(LocalStorage(lake), RUN)["passed"] is True
    publication = publish_run(LocalStorage(lake), RUN, base)
    assert publication.snapshot.seq == base + 1
    assert publication.reports == [f"_reports/dq/date={D2}.html", f"_reports/dq/date={D2}.json"]
    assert load_published(LocalStorage(lake)).version("processed/transactions", D2) == RUN


def test_publication_refuses_a_run_that_was_never_audited(build, run_builder, lake):
    build.clean_day(D1)
    base = load_published(LocalStorage(lake)).seq
    run_builder(RUN).clean_day(D2)
    with pytest.raises(DataQualityError, match=f"run {RUN} has no audit verdict"):
        publish_run(LocalStorage(lake), RUN, base)
    with pytest.raises(DataQualityError, match=f"run {RUN} has no audit verdict"):
        check_verdict(LocalStorage(lake), RUN)


def test_the_audit_judges_the_summary_of_the_rows_it_checks(build, run_builder, lake):
    build.clean_day(D1)
    run = run_builder(RUN)
    run.clean_day(D1)  # the run recomputes D1 ...
    entry = run._entry(Job.TRANSACTION_ETL, "transactions", D1, 10) | {"rows_in": 12}
    run.summary(Job.TRANSACTION_ETL, D1, [entry])  # ... and its summary does not add up

    with pytest.raises(DataQualityError, match=f"transactions.conservation on {D1}: in 12 = out 10"):
        audit_run(lake, RUN)
    # What is published was computed by the earlier run, whose summary adds up.
    published = {r.rule_id: r for r in run_checks(lake, D1).results}
    assert published["transactions.conservation"].status is Status.PASS
    assert published["transactions.conservation"].detail == "in 10 = out 10 + quarantined 0"


def test_an_emptied_partition_is_audited_on_the_runs_view(build, run_builder, lake):
    build.clean_day(D1)
    run = run_builder(RUN)
    run.remove("transactions", D1)  # the run found no transactions for D1 any more
    run.summary(Job.TRANSACTION_ETL, D1, [run._entry(Job.TRANSACTION_ETL, "transactions", D1, 0)])
    with pytest.raises(DataQualityError) as err:
        audit_run(lake, RUN)
    assert f"transactions.freshness on {D1}: no transactions partition (or no rows) for {D1}" in str(err.value)
    verdict = read_verdict(LocalStorage(lake), RUN)
    assert verdict is not None
    assert verdict["dates"] == [D1]


def test_warnings_are_in_the_verdict_and_do_not_stop_the_run(build, run_builder, lake):
    build.clean_day(D1)
    run = run_builder(RUN)
    run.clean_day(D2)
    run.validation("reviews", D2, "reviews.csv", ["helpful_votes"])
    audit = audit_run(lake, RUN)
    assert audit.passed
    assert _verdict(lake)["warned"] == [
        {"date": D2, "check": "reviews.schema_drift", "detail": "schema drift in reviews.csv: extra helpful_votes"}
    ]


def test_a_run_with_no_output_has_nothing_to_audit(build, lake):
    build.clean_day(D1)
    with pytest.raises(NothingToAuditError, match="run run-9999 recorded no output; nothing to audit"):
        audit_run(lake, "run-9999")
    assert not (lake / "_runs" / "run-9999" / "audit.json").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{half", "the audit verdict of run run-0002 is not valid JSON; audit the run again"),
        (b'{"passed": "yes"}', "the audit verdict of run run-0002 has no passed/failed answer; audit the run again"),
        (b"[]", "the audit verdict of run run-0002 has no passed/failed answer; audit the run again"),
    ],
)
def test_a_damaged_verdict_never_passes(lake, body, message):
    storage = LocalStorage(lake)
    storage.write_bytes(f"_runs/{RUN}/audit.json", body)
    with pytest.raises(DataQualityError) as err:
        check_verdict(storage, RUN)
    assert str(err.value) == message


def test_a_run_file_missing_a_column_makes_its_table_unavailable(build, run_builder, lake):
    build.clean_day(D1)
    run = run_builder(RUN)
    rows = run.clean_day(D2)
    run.write("reviews", rows["reviews"], D2, drop=("review_text",))
    with pytest.raises(DataQualityError):
        audit_run(lake, RUN)
    report = json.loads((lake / "_runs" / RUN / "dq" / f"date={D2}.json").read_text())
    from_facts = {"conservation", "quarantine_rate", "schema_drift"}  # judged on the run's records, not the table
    reviews = [c for c in report["checks"] if c["table"] == "reviews" and c["kind"] not in from_facts]
    assert {c["status"] for c in reviews} == {"fail"}
    expected = (
        f"could not evaluate: table reviews at {lake}/processed/reviews does not match its schema: "
        f"part-0.parquet in processed/reviews/date={D2}/run={RUN} lacks review_text"
    )
    assert {c["detail"] for c in reviews if c["kind"] == "not_null"} == {expected}
    assert next(c for c in report["checks"] if c["id"] == "transactions.freshness")["status"] == "pass"


def test_an_unreadable_quarantine_file_fails_conservation_not_the_audit(build, run_builder, lake):
    build.clean_day(D1)
    run = run_builder(RUN)
    run.clean_day(D2)
    entry = run._entry(Job.TRANSACTION_ETL, "transactions", D2, 10) | {"rows_in": 12, "rows_quarantined": 2}
    run.summary(Job.TRANSACTION_ETL, D2, [entry])
    path = run.quarantine("transactions", D2, {"bad_date": 2})
    path.write_bytes(b"not parquet at all")

    with pytest.raises(DataQualityError, match=f"transactions.conservation on {D2}"):
        audit_run(lake, RUN)
    report = json.loads((lake / "_runs" / RUN / "dq" / f"date={D2}.json").read_text())
    conservation = next(c for c in report["checks"] if c["id"] == "transactions.conservation")
    assert conservation["detail"] == "in 12 = out 10 + quarantined 2; quarantine holds 0 rows, summary says 2"
    [(reason, rows)] = report["quarantine"]["transactions"].items()
    assert reason.startswith("unreadable: ")
    assert rows == 0
