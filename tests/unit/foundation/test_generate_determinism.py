"""Same seed and options, same bytes; another seed, other data."""

from __future__ import annotations

import os
import subprocess
import sys

from foundation_trees import FAULTY_RATE, SMALL, tree_bytes

from ecomlake.generate import generate


def test_same_seed_gives_identical_bytes(faulty_tree, tmp_path):
    root, manifest = faulty_tree
    again = generate(tmp_path / "again", **SMALL, bad_rate=FAULTY_RATE)
    first, second = tree_bytes(root), tree_bytes(tmp_path / "again")
    assert again == manifest
    assert sorted(first) == sorted(second)
    assert len(first) == 1 + len(manifest["files"])  # the manifest and every data file
    for name in first:
        assert first[name] == second[name], name


def test_identical_in_a_fresh_interpreter_with_another_hash_seed(faulty_tree, tmp_path):
    """No dependence on set/dict hash order or on state left in this process."""
    root, _ = faulty_tree
    code = (
        "import sys; from ecomlake.generate import generate; "
        f"generate(sys.argv[1], **{SMALL!r}, bad_rate={FAULTY_RATE!r})"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "sub")], check=True, env=env, timeout=120)
    assert tree_bytes(tmp_path / "sub") == tree_bytes(root)


def test_different_seed_gives_different_data(clean_tree, tmp_path):
    root, manifest = clean_tree
    other = generate(tmp_path / "other", **{**SMALL, "seed": SMALL["seed"] + 1})
    first, second = tree_bytes(root), tree_bytes(tmp_path / "other")
    assert other["counts"]["transactions"] == manifest["counts"]["transactions"]  # sizes are options, not luck
    for name in manifest["files"]:
        if name in second:
            assert first[name] != second[name], name


def test_faults_leave_clean_products_untouched(clean_tree, faulty_tree):
    """Product faults are extra records: every clean catalog line is still there, in order."""
    clean_root, manifest = clean_tree
    faulty_root, _ = faulty_tree
    for rel in (f for f in manifest["files"] if f.startswith("products/")):
        clean_lines = (clean_root / rel).read_text().splitlines()
        faulty_lines = iter((faulty_root / rel).read_text().splitlines())
        # clean_lines must be a subsequence of faulty_lines (modulo the JSON array commas)
        for line in clean_lines:
            target = line.rstrip(",")
            assert any(candidate.rstrip(",") == target for candidate in faulty_lines), (rel, line)


def test_rerun_into_the_same_directory_replaces_the_previous_output(tmp_path):
    out = tmp_path / "out"
    generate(out, **{**SMALL, "days": 4})
    manifest = generate(out, **SMALL)
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert on_disk == manifest["files"]
    assert not any("2025-04-02" in f for f in on_disk)  # the fourth day is gone
