"""LocalStorage: the lake directory behind the same key layout as the buckets; S3Storage's reads under moto."""

from __future__ import annotations

import pytest

from ecomlake.contract import Zone
from ecomlake.exceptions import InvalidKeyError, LakeNotFoundError
from ecomlake.storage import LocalStorage, S3Storage, require_lake, resolve_lake, zone_of


def test_write_read_exists_and_list(lake):
    store = LocalStorage(lake)
    store.write_bytes("raw/transactions/date=2025-01-01/transactions.csv", b"a,b\n1,2\n")
    store.write_bytes("raw/transactions/date=2025-01-02/transactions.csv", b"x")
    store.write_bytes("raw/reviews/date=2025-01-01/reviews.csv", b"y")
    assert store.read_bytes("raw/transactions/date=2025-01-01/transactions.csv") == b"a,b\n1,2\n"
    assert store.exists("raw/reviews/date=2025-01-01/reviews.csv")
    assert not store.exists("raw/reviews/date=2025-01-02/reviews.csv")
    assert not store.exists("raw/reviews")  # a prefix is not an object
    assert store.list("raw/transactions/") == [
        "raw/transactions/date=2025-01-01/transactions.csv",
        "raw/transactions/date=2025-01-02/transactions.csv",
    ]
    assert store.list("raw/") == sorted(store.list("raw/transactions") + store.list("raw/reviews"))
    assert store.list("raw/reviews/date=2025-01-01/reviews.csv") == ["raw/reviews/date=2025-01-01/reviews.csv"]
    assert store.list("curated/") == []
    assert store.uri("raw/x") == str(lake / "raw" / "x")


def test_overwrite_is_atomic_and_leaves_no_temp_file(lake):
    store = LocalStorage(lake)
    key = "processed/t/date=2025-01-01/part.parquet"
    store.write_bytes(key, b"first")
    store.write_bytes(key, b"second")
    assert store.read_bytes(key) == b"second"
    assert [p.name for p in (lake / "processed/t/date=2025-01-01").iterdir()] == ["part.parquet"]


def test_list_skips_hidden_files(lake):
    store = LocalStorage(lake)
    store.write_bytes("raw/a/date=2025-01-01/f.csv", b"1")
    (lake / "raw/a/date=2025-01-01/.f.csv.tmp").write_bytes(b"partial")
    assert store.list("raw/a") == ["raw/a/date=2025-01-01/f.csv"]


def test_list_is_what_rglob_finds_on_a_hostile_tree(lake, tmp_path):
    """Files in dot-folders are listed, dot-files are not; links to files count, links to folders
    are not followed, broken links and the empty folder give nothing: ``rglob`` filtered by
    ``is_file`` (the definition the listing used to run, one ``stat`` per path)."""
    store = LocalStorage(lake)
    for key in ("raw/a/date=2025-01-01/f.csv", "raw/a/date=2025-01-01/.hidden/g.csv", "raw/a/z.csv", "raw/b/x/y/z.csv"):
        store.write_bytes(key, b"1")
    (lake / "raw/a/date=2025-01-01/.partial.tmp").write_bytes(b"")
    (lake / "raw/a/empty").mkdir()
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "h.csv").write_bytes(b"1")
    (outside / "one.csv").write_bytes(b"1")
    (lake / "raw/a/linked-folder").symlink_to(outside / "deep", target_is_directory=True)
    (lake / "raw/a/linked-file.csv").symlink_to(outside / "one.csv")
    (lake / "raw/a/broken.csv").symlink_to(outside / "missing.csv")

    def by_rglob(prefix: str) -> list[str]:
        base = lake / prefix.rstrip("/")
        found = (p.relative_to(lake).as_posix() for p in base.rglob("*") if p.is_file() and not p.name.startswith("."))
        return sorted(found)

    assert store.list("raw/a/") == [
        "raw/a/date=2025-01-01/.hidden/g.csv",
        "raw/a/date=2025-01-01/f.csv",
        "raw/a/linked-file.csv",
        "raw/a/z.csv",
    ]
    for prefix in ("raw/a/", "raw/", "raw/b", "raw/a/date=2025-01-01/"):
        assert store.list(prefix) == by_rglob(prefix), prefix
    assert store.list("") == by_rglob("")


def test_delete_prefix(lake):
    store = LocalStorage(lake)
    for day in ("2025-01-01", "2025-01-02"):
        store.write_bytes(f"processed/t/date={day}/a.parquet", b"1")
        store.write_bytes(f"processed/t/date={day}/b.parquet", b"2")
    assert store.delete_prefix("processed/t/date=2025-01-01/") == 2
    assert store.list("processed/t") == [
        "processed/t/date=2025-01-02/a.parquet",
        "processed/t/date=2025-01-02/b.parquet",
    ]
    assert store.delete_prefix("processed/t/date=2025-01-09/") == 0
    assert store.delete_prefix("processed/t/date=2025-01-02/a.parquet") == 1
    with pytest.raises(InvalidKeyError, match="whole lake"):
        store.delete_prefix("/")
    with pytest.raises(InvalidKeyError, match="whole lake"):
        store.delete_prefix("")


@pytest.mark.parametrize("key", ["../outside.csv", "raw/../../etc/passwd", "/etc/passwd"])
def test_keys_cannot_escape_the_lake(lake, key):
    store = LocalStorage(lake)
    with pytest.raises(InvalidKeyError, match="escapes the lake"):
        store.write_bytes(key, b"x")
    with pytest.raises(InvalidKeyError):
        store.read_bytes(key)
    assert not (lake.parent / "outside.csv").exists()


def test_zone_of():
    assert str(zone_of("quarantine/transactions/date=2025-01-01/rows.parquet")) == "quarantine"
    with pytest.raises(InvalidKeyError, match="known zone"):
        zone_of("bronze/x")


def test_resolve_and_require_lake(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_lake() == tmp_path / ".lake"
    monkeypatch.setenv("ECOMLAKE_LAKE", str(tmp_path / "env-lake"))
    assert resolve_lake() == tmp_path / "env-lake"
    assert resolve_lake(tmp_path / "given") == tmp_path / "given"
    with pytest.raises(LakeNotFoundError, match="no lake at"):
        require_lake(tmp_path / "missing")
    (tmp_path / "present").mkdir()
    assert require_lake(tmp_path / "present") == tmp_path / "present"


def test_read_optional_is_none_for_no_object(lake):
    store = LocalStorage(lake)
    store.write_bytes("_runs/r1/plan.json", b"{}")
    assert store.read_optional("_runs/r1/plan.json") == b"{}"
    assert store.read_optional("_runs/r2/plan.json") is None
    assert store.read_optional("_runs/r1") is None  # a prefix is not an object
    assert store.read_optional("_runs/r1/plan.json/deeper") is None  # under a file
    with pytest.raises(InvalidKeyError):
        store.read_optional("../outside.json")


def test_s3_read_optional_asks_once_and_lets_other_errors_through():
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="lake-reports")
        store = S3Storage({Zone.RUNS: "lake-reports"})
        store.write_bytes("_runs/r1/plan.json", b"{}")
        calls: list[str] = []
        store.client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
        assert store.read_optional("_runs/r1/plan.json") == b"{}"
        assert store.read_optional("_runs/r2/plan.json") is None
        assert calls == ["GetObject", "GetObject"]
        gone = S3Storage({Zone.RUNS: "no-such-bucket"})
        with pytest.raises(ClientError, match="NoSuchBucket"):
            gone.read_optional("_runs/r1/plan.json")
