"""`ecomlake ingest PATH...`: dataset and date read from the generator's layout, symbolic links refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ecomlake.cli import run
from ecomlake.exceptions import InvalidArgumentError, InvalidKeyError, UnknownDatasetError
from ecomlake.generate import generate
from ecomlake.ingest.local import collect

DATASETS = ("clickstream", "products", "reviews", "transactions")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 3-day tree, the generator's manifest at its top."""
    root = tmp_path_factory.mktemp("ingest-paths") / "landing"
    generate(root, days=3, transactions=300, products=30, clickstream=300, reviews=30, seed=5)
    return root


def landed(lake: Path) -> list[str]:
    return sorted(p.relative_to(lake / "raw").as_posix() for p in (lake / "raw").rglob("*") if p.is_file())


def expected(tree: Path, *parts: str) -> list[str]:
    base = tree.joinpath(*parts)
    return sorted(p.relative_to(tree).as_posix() for p in base.rglob("*") if p.is_file() and p.name != "manifest.json")


def test_a_whole_tree_in_one_call(tree, tmp_path, capsys):
    lake = tmp_path / "lake"
    assert run(["ingest", str(tree), "--lake", str(lake)]) == 0
    assert landed(lake) == expected(tree)
    assert len(landed(lake)) == 12  # 4 datasets x 3 days
    out = capsys.readouterr().out
    assert "Landed 12 files in" in out
    for dataset in DATASETS:
        assert dataset in out
    assert f"skipped (not in a <dataset>/date=YYYY-MM-DD folder): {tree / 'manifest.json'}" in out
    assert "next: ecomlake run --all --lake" in out
    # Each landed file equals its source, byte for byte.
    for rel in landed(lake):
        assert (lake / "raw" / rel).read_bytes() == (tree / rel).read_bytes()


def test_a_dataset_folder_a_partition_folder_and_a_file(tree, tmp_path, capsys):
    lake = tmp_path / "lake"
    argv = [
        "ingest",
        str(tree / "products"),
        str(tree / "reviews" / "date=2025-01-02"),
        str(tree / "transactions" / "date=2025-01-03" / "transactions.csv"),
        "--lake",
        str(lake),
    ]
    assert run(argv) == 0
    assert landed(lake) == sorted(
        [
            *expected(tree, "products"),
            *expected(tree, "reviews", "date=2025-01-02"),
            "transactions/date=2025-01-03/transactions.csv",
        ]
    )


def test_files_outside_the_layout_take_dataset_and_date_from_the_options(tree, tmp_path):
    loose = tmp_path / "loose.csv"
    loose.write_bytes((tree / "reviews" / "date=2025-01-01" / "reviews.csv").read_bytes())
    lake = tmp_path / "lake"
    assert run(["ingest", str(loose), "--dataset", "reviews", "--date", "2025-02-01", "--lake", str(lake)]) == 0
    assert landed(lake) == ["reviews/date=2025-02-01/loose.csv"]


def test_an_unplaceable_file_or_a_contradiction_lands_nothing(tree, tmp_path, capsys):
    loose = tmp_path / "loose.csv"
    loose.write_text("x\n")
    lake = tmp_path / "lake"
    assert run(["ingest", str(tree), str(loose), "--lake", str(lake)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: cannot tell the dataset and date of {loose}: it is not under "
        "<dataset>/date=YYYY-MM-DD/; pass --dataset and --date"
    )
    assert not lake.exists()  # the tree before it was not landed either
    file_in_layout = tree / "reviews" / "date=2025-01-02" / "reviews.csv"
    assert run(["ingest", str(file_in_layout), "--date", "2025-01-03", "--lake", str(lake)]) == 2
    assert "is in the 2025-01-02 date folder, but --date 2025-01-03 was given" in capsys.readouterr().err
    assert run(["ingest", str(file_in_layout), "--dataset", "products", "--lake", str(lake)]) == 2
    assert "is in the reviews dataset folder, but --dataset products was given" in capsys.readouterr().err
    assert not lake.exists()


def test_collect_refuses_what_is_not_the_layout(tmp_path):
    (tmp_path / "gen" / "orders" / "date=2025-01-01").mkdir(parents=True)
    (tmp_path / "gen" / "orders" / "date=2025-01-01" / "o.csv").write_text("a\n")
    with pytest.raises(UnknownDatasetError, match=r"gen/orders: unknown dataset 'orders'"):
        collect([tmp_path / "gen"])
    (tmp_path / "t" / "reviews" / "date=2025-01-01" / "nested").mkdir(parents=True)
    with pytest.raises(InvalidKeyError, match="a folder inside a partition"):
        collect([tmp_path / "t"])
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.csv").write_text("x\n")
    with pytest.raises(InvalidArgumentError, match="holds files but no <dataset>/date=YYYY-MM-DD folders"):
        collect([tmp_path / "flat"])
    with pytest.raises(InvalidArgumentError, match="no such file or directory"):
        collect([tmp_path / "missing"])


def test_the_same_file_named_twice_lands_once(tree):
    found = collect([tree / "reviews", tree / "reviews" / "date=2025-01-01" / "reviews.csv"])
    assert found.files == 3


# --------------------------------------------------------------------------- symbolic links


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("root:x:0:0:the first line must never be echoed\n")
    return path


def test_a_link_named_on_the_command_line_is_refused_without_reading_it(secret, tmp_path, capsys):
    link = tmp_path / "reviews" / "date=2025-01-01" / "reviews.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    lake = tmp_path / "lake"
    assert run(["ingest", str(link), "--lake", str(lake)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"error: {link} is a symbolic link; ingest lands regular files only "
        "(--follow-symlinks lands what links point to)"
    )
    assert "root:x" not in captured.out + captured.err
    assert not lake.exists()


def test_a_link_inside_a_tree_is_refused_and_nothing_lands(tree, secret, tmp_path, capsys):
    copy = tmp_path / "copy"
    for rel in expected(tree):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((tree / rel).read_bytes())
    (copy / "reviews" / "date=2025-01-01" / "extra.csv").symlink_to(secret)
    lake = tmp_path / "lake"
    assert run(["ingest", str(copy), "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "extra.csv is a symbolic link" in err
    assert "root:x" not in err
    assert not lake.exists()


def test_follow_symlinks_lands_the_target_under_the_links_name(tree, tmp_path):
    link = tmp_path / "reviews" / "date=2025-01-01" / "reviews.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(tree / "reviews" / "date=2025-01-01" / "reviews.csv")
    lake = tmp_path / "lake"
    assert run(["ingest", str(link), "--follow-symlinks", "--lake", str(lake)]) == 0
    assert (lake / "raw/reviews/date=2025-01-01/reviews.csv").read_bytes() == link.read_bytes()
    assert not (lake / "raw/reviews/date=2025-01-01/reviews.csv").is_symlink()


def test_a_folder_that_is_a_link_is_refused_too(tree, tmp_path, capsys):
    link = tmp_path / "linked-tree"
    link.symlink_to(tree, target_is_directory=True)
    assert run(["ingest", str(link), "--lake", str(tmp_path / "lake")]) == 2
    assert f"{link} is a symbolic link" in capsys.readouterr().err


def test_a_fifo_is_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "reviews" / "date=2025-01-01" / "reviews.csv"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    assert run(["ingest", str(fifo), "--lake", str(tmp_path / "lake")]) == 2  # would block forever if read
    assert "is not a regular file" in capsys.readouterr().err


def test_the_manifest_is_not_data(tree):
    found = collect([tree])
    assert found.skipped == [tree / "manifest.json"]
    assert json.loads((tree / "manifest.json").read_text())["days"] == 3
