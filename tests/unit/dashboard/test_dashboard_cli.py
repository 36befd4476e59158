"""`ecomlake dashboard`: build, report, and (with --serve) hand over to the local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomlake import dashboard
from ecomlake.cli import run
from ecomlake.local import server
from tests.unit.dashboard.dashboard_fakes import FakeAthena, fake_local_runner, write_partitions


@pytest.fixture
def fake_queries(monkeypatch: pytest.MonkeyPatch) -> FakeAthena:
    athena = FakeAthena()
    monkeypatch.setattr(dashboard, "local_runner", lambda _lake: fake_local_runner(athena))
    return athena


def test_dashboard_builds_into_the_lake_and_reports(
    lake: Path, fake_queries: FakeAthena, capsys: pytest.CaptureFixture[str]
) -> None:
    write_partitions(lake)

    code = run(["dashboard", "--lake", str(lake)])

    out = capsys.readouterr().out
    assert code == 0
    assert (lake / "_site" / "data" / "daily_kpis.json").is_file()
    assert "daily_kpis" in out
    assert "600" in out
    assert "2025-01-01 .. 2025-01-30" in out
    assert str(lake / "_site" / "index.html") in out.replace("\n", "")
    assert len(fake_queries.query_sqls) == len(dashboard.QUERY_NAMES)


def test_dashboard_out_option_chooses_the_site_directory(
    lake: Path, tmp_path: Path, fake_queries: FakeAthena, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "site"

    assert run(["dashboard", "--lake", str(lake), "--out", str(out_dir)]) == 0

    assert json.loads((out_dir / "data" / "top_products.json").read_text())["rows"]
    assert not (lake / "_site").exists()


def test_dashboard_serve_prints_the_loopback_url(
    lake: Path, fake_queries: FakeAthena, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, object] = {}

    def fake_serve(root, port=8050, host="127.0.0.1", *, site=None, on_ready=None):
        seen.update(root=root, port=port, host=host, site=site)
        on_ready(f"http://{host}:{port}/")

    monkeypatch.setattr(server, "serve", fake_serve)

    assert run(["dashboard", "--lake", str(lake), "--serve", "--port", "8123"]) == 0

    assert seen == {"root": lake.resolve(), "port": 8123, "host": "127.0.0.1", "site": lake.resolve() / "_site"}
    assert "serving the dashboard at http://127.0.0.1:8123/" in capsys.readouterr().out


def test_dashboard_without_a_lake_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["dashboard", "--lake", str(tmp_path / "missing")])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: no lake at")
    assert "Traceback" not in err


def test_dashboard_bad_port_is_one_clear_error(
    lake: Path, fake_queries: FakeAthena, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["dashboard", "--lake", str(lake), "--serve", "--port", "70000"])

    assert code == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err
    assert fake_queries.sqls == []  # refused before any query ran
