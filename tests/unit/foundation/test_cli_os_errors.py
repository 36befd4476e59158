"""Operating-system errors anywhere in the CLI: one line naming the path and the cause, a non-zero exit.

Real conditions where the machine allows them (a file where a directory should be, a busy
port, a read-only file system or a full one on a small tmpfs when running as root, or
permissions when not); a full disk is also simulated at the one write that used to surface
as a traceback (the run record written in the runner's ``finally``).
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecomlake.cli import os_error_line, run
from ecomlake.storage import LocalStorage

DAY = "2025-01-01"


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line on stderr (progress lines, when off a terminal, go there too)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert 'File "' not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    return path


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "incoming" / "transactions" / f"date={DAY}" / "transactions.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "transaction_id,customer_id,product_id,quantity,price,total_amount,transaction_date,status\n"
        "T1,C1,P1,1,9.99,9.99,2025-01-01T10:00:00Z,completed\n"
    )
    return path


COMMANDS_THAT_READ_A_LAKE = [
    ["run", "--date", DAY],
    ["dq", "--date", DAY],
    ["query", "daily_kpis"],
    ["dashboard"],
]


@pytest.mark.parametrize("argv", COMMANDS_THAT_READ_A_LAKE, ids=lambda a: a[0])
def test_lake_that_is_a_file(argv, a_file, capsys):
    assert run([*argv, "--lake", str(a_file)]) == 2
    assert one_line_error(capsys) == f"error: --lake {a_file} is a file, not a lake directory"


def test_commands_that_create_a_lake_refuse_a_file_or_a_path_under_one(a_file, source, capsys):
    assert run(["ingest", str(source), "--lake", str(a_file)]) == 2
    assert one_line_error(capsys) == f"error: --lake {a_file} is a file, not a directory"
    under = a_file / "lake"
    assert run(["generate", "--days", "1", "--transactions", "5", "--lake", str(under)]) == 2
    assert one_line_error(capsys) == f"error: --lake {under} is under {a_file}, which is a file, not a directory"
    small = ["--days", "1", "--transactions", "10", "--clickstream", "10", "--reviews", "1", "--products", "5"]
    assert run(["demo", *small, "--lake", str(under)]) == 2
    assert "which is a file" in one_line_error(capsys)
    assert run(["bench", "--transactions", "10", "--days", "1", "--lake", str(under)]) == 2
    assert "which is a file" in one_line_error(capsys)


def test_outputs_under_a_file(a_file, tmp_path, capsys):
    target = a_file / "asl.json"
    assert run(["asl", "--output", str(target)]) == 2
    assert one_line_error(capsys) == f"error: --output {target} is under {a_file}, which is a file, not a directory"
    assert run(["generate", "--out", str(a_file / "gen"), "--days", "1", "--transactions", "5"]) == 2
    assert "--out" in one_line_error(capsys)
    lake = tmp_path / "lake"
    lake.mkdir()
    assert run(["dashboard", "--lake", str(lake), "--out", str(a_file / "site")]) == 2
    assert one_line_error(capsys).startswith(f"error: --out {a_file / 'site'} is under {a_file}")
    assert run(["query", "daily_kpis", "--explain", "--plan-file", str(a_file / "p.txt"), "--lake", str(lake)]) == 2
    assert "--plan-file" in one_line_error(capsys)


def test_serving_on_a_busy_port_is_one_line_and_builds_nothing(tmp_path, capsys):
    lake = tmp_path / "lake"
    lake.mkdir()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run(["dashboard", "--serve", "--port", str(port), "--lake", str(lake)]) == 2
    line = one_line_error(capsys)
    assert line.startswith(f"error: cannot serve on 127.0.0.1:{port}: the port is in use")
    assert "--port 0" in line
    assert not (lake / "_site").exists()  # refused before the build


def test_a_full_disk_at_the_run_record_is_one_line(tmp_path, source, monkeypatch, capsys):
    lake = tmp_path / "lake"
    assert run(["ingest", str(source), "--lake", str(lake)]) == 0
    capsys.readouterr()
    real_write = LocalStorage.write_bytes

    def full_disk_for_run_records(self, key, data):
        if key.startswith("_runs/"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path(key)))
        return real_write(self, key, data)

    monkeypatch.setattr(LocalStorage, "write_bytes", full_disk_for_run_records)
    assert run(["run", "--date", DAY, "--lake", str(lake)]) == 1
    line = one_line_error(capsys)
    assert line.startswith(f"error: {lake}/_runs/")
    assert line.endswith(": no space left on device")


def test_os_error_lines_name_the_paths_and_the_cause():
    assert os_error_line(OSError(errno.EROFS, "Read-only file system", "/l/x")) == "/l/x: read-only file system"
    assert os_error_line(OSError(errno.ENOSPC, "No space left on device")) == "no space left on device"
    renamed = OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")
    assert os_error_line(renamed) == "/a -> /b: invalid cross-device link"


# --------------------------------------------------------------------------- real file systems


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def read_only_lake(tmp_path: Path) -> Iterator[Path]:
    """A lake the process cannot write: a read-only tmpfs as root, a 0555 directory otherwise."""
    lake = tmp_path / "ro-lake"
    lake.mkdir()
    if _mount_tmpfs(lake, "ro,size=1m"):
        yield lake
        subprocess.run(["umount", str(lake)], check=False)
    elif os.geteuid() != 0:
        lake.chmod(0o555)
        yield lake
        lake.chmod(0o755)
    else:
        pytest.skip("root without mount: no way to make a directory unwritable")


@pytest.mark.parametrize("argv", [["run", "--date", DAY], ["dq", "--date", DAY], ["dashboard"]], ids=lambda a: a[0])
def test_read_only_lake(argv, read_only_lake, capsys):
    assert run([*argv, "--lake", str(read_only_lake)]) == 2
    line = one_line_error(capsys)
    assert line.startswith(f"error: --lake {read_only_lake} cannot be written: ")
    assert line.endswith(("is on a read-only file system", f"no permission to write in {read_only_lake}"))


def test_read_only_lake_for_ingest(read_only_lake, source, capsys):
    assert run(["ingest", str(source), "--lake", str(read_only_lake)]) == 2
    assert "cannot be written" in one_line_error(capsys)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "tiny"
    disk.mkdir()
    if not _mount_tmpfs(disk, "size=64k"):
        pytest.skip("needs root to mount a small tmpfs (the simulated full disk above runs everywhere)")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def test_a_really_full_disk_while_landing(tiny_disk, tmp_path, capsys):
    big = tmp_path / "incoming" / "reviews" / f"date={DAY}" / "reviews.csv"
    big.parent.mkdir(parents=True)
    rows = "".join(f"R{i},P1,C1,5,fine,2025-01-01\n" for i in range(10_000))
    big.write_text("review_id,product_id,customer_id,rating,review_text,review_date\n" + rows)
    code = run(["ingest", str(big), "--lake", str(tiny_disk / "lake")])
    line = one_line_error(capsys)
    assert code == 1
    # The write itself fails (no file name in the error): the lake being written is named.
    assert line == f"error: {tiny_disk / 'lake'}: no space left on device (while working in this lake)"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_output_to_a_full_device_names_standard_output_not_the_lake(tmp_path):
    import sys

    exe = Path(sys.executable).with_name("ecomlake")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(exe), "asl"], cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, text=True, check=False
        )
    assert done.returncode == 1
    assert done.stderr == "error: standard output: no space left on device\n"
