"""S3Storage's zone-to-bucket map: zones that share a bucket in the contract are filled in."""

from __future__ import annotations

from ecomlake.contract import Zone
from ecomlake.storage import shared_buckets


def test_a_glue_job_that_names_only_the_reports_bucket_still_finds_runs_and_the_snapshot():
    given = {Zone.RAW: "raw-b", Zone.PROCESSED: "proc-b", Zone.REPORTS: "rep-b"}
    filled = shared_buckets(given)
    assert filled[Zone.RUNS] == filled[Zone.CATALOG] == "rep-b"
    assert filled[Zone.RAW] == "raw-b"
    assert Zone.CURATED not in filled  # nothing shares the curated bucket's variable
    assert Zone.ATHENA_RESULTS not in filled


def test_an_explicit_bucket_is_never_overridden():
    filled = shared_buckets({Zone.REPORTS: "rep-b", Zone.CATALOG: "cat-b"})
    assert filled[Zone.CATALOG] == "cat-b"
    assert filled[Zone.RUNS] == "rep-b"
