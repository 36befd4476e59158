"""The README's "A session on a laptop" runs as written, so the README cannot drift from the CLI.

Each command of its bash block is run in order, in a temporary working directory (so the
default lake ``./.lake`` is a fresh one), with two changes that keep the suite fast and
parallel-safe: a smaller ``--transactions`` and the generated tree under the temp directory.
``dashboard --serve`` runs as a real process on a free port and must answer.
"""

from __future__ import annotations

import csv
import io
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from ecomlake.cli import run

ROOT = Path(__file__).resolve().parents[3]
SMALL_TRANSACTIONS = "1500"


def session_commands() -> list[list[str]]:
    """The ecomlake commands of the bash block after "A session on a laptop", continuation lines joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("A session on a laptop")
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert block, "the README lost its laptop-session block"
    joined = block.group(1).replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert words[0] == ".venv/bin/ecomlake", f"unexpected command in the README session: {line}"
        commands.append(words[1:])
    return commands


def adapt(words: list[str], landing: Path) -> list[str]:
    out = [str(landing) if w == "/tmp/landing" else w for w in words]
    if "--transactions" in out:
        out[out.index("--transactions") + 1] = SMALL_TRANSACTIONS
    return out


def test_the_session_lands_every_dataset_and_answers(tmp_path, monkeypatch, capsys):
    commands = session_commands()
    assert [c[0] for c in commands] == ["generate", "ingest", "run", "status", "dq", "query", "query", "dashboard"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECOMLAKE_LAKE", raising=False)
    landing = tmp_path / "landing"
    outputs: dict[int, str] = {}
    for i, words in enumerate(commands):
        argv = adapt(words, landing)
        if "--serve" in argv:
            serve_and_fetch(argv, tmp_path)
            continue
        code = run(argv)
        captured = capsys.readouterr()
        assert code == 0, f"{' '.join(argv)} exited {code}: {captured.err}"
        assert "Traceback" not in captured.err
        outputs[i] = captured.out

    lake = tmp_path / ".lake"
    # Every dataset landed for every generated day, with one ingest call.
    for dataset in ("transactions", "products", "clickstream", "reviews"):
        days = sorted(p.name for p in (lake / "raw" / dataset).iterdir())
        assert days == [f"date=2025-01-0{d}" for d in range(1, 8)], dataset
    # After the backfill the status has nothing pending and names the run that published snapshot 1.
    status = outputs[3].splitlines()
    assert "landed: 7 dates, 2025-01-01 to 2025-01-07; nothing pending" in status
    newest = r"  \d{8}T\d{6}Z-[0-9a-f]{8}  SUCCEEDED .* 7 dates, 2025-01-01 to 2025-01-07  -> snapshot 1$"
    assert any(re.match(newest, line) for line in status), status
    # The category query answers with Electronics rows (0 rows is what a transactions-only landing gave).
    top = outputs[5]
    assert "Electronics" in top
    rows = int(re.search(r"^(\d+) rows$", top, re.M).group(1))
    assert 1 <= rows <= 5
    # The CSV is a real CSV: a header and one row per week of the 7 days (2025-01-01 is a Wednesday).
    table = list(csv.reader(io.StringIO(outputs[6])))
    assert table[0][0] == "period_start"
    assert [r[0] for r in table[1:]] == ["2024-12-30", "2025-01-06"]


def serve_and_fetch(argv: list[str], cwd: Path) -> None:
    """Start the server as a user would (its own process), fetch the page, stop it."""
    exe = Path(sys.executable).with_name("ecomlake")
    proc = subprocess.Popen(
        [str(exe), *argv, "--port", "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        for line in proc.stdout:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url, f"the server printed no URL: {proc.stderr.read() if proc.poll() is not None else ''}"
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
            assert b"<html" in page.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("words", session_commands())
def test_every_session_command_exists_with_these_options(words, capsys):
    # --help validates the command name; each option used must appear in its help.
    code = run([words[0], "--help"])
    help_text = capsys.readouterr().out
    assert code == 0
    for option in (w for w in words[1:] if w.startswith("--")):
        assert option in help_text, f"{words[0]} has no {option}"
