"""The local dashboard server, probed over real sockets as a browser or an attacker's page would."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecomlake.local import server as local_server
from ecomlake.local.server import host_allowed


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("server") / "site"
    (root / "data").mkdir(parents=True)
    (root / "vendor").mkdir()
    (root / "index.html").write_text("<!doctype html><html><body>ok</body></html>")
    (root / "data" / "daily_kpis.json").write_text('{"rows": []}')
    (root / "vendor" / "chart.js").write_text("// chart")
    (root / ".env").write_text("SECRET=1")
    return root


@pytest.fixture(scope="module")
def port(site: Path) -> Iterator[int]:
    srv = local_server.make_server(site, port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def get(port: int, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        conn.endheaders()
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def test_the_page_and_its_data_are_served_with_the_security_headers(port):
    status, headers, body = get(port, "/")
    assert status == 200
    assert b"ok" in body
    assert headers["server"] == "ecomlake"
    assert headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert get(port, "/data/daily_kpis.json")[0] == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:8050", "[::1]", "[::1]:8050"])
def test_loopback_host_headers_are_answered(port, host):
    assert get(port, "/", host)[0] == 200


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8050", "127.0.0.1.evil.example", "localhost.", "", "127.0.0.1:notaport", "[::2]"],
)
def test_other_host_headers_are_refused(port, host):
    # DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 still sends its own name.
    status, headers, body = get(port, "/data/daily_kpis.json", host)
    assert status == 421
    assert b"rows" not in body
    assert headers["server"] == "ecomlake"


@pytest.mark.parametrize("path", ["/data/", "/vendor/", "/data", "/vendor"])
def test_no_directory_listings(port, path):
    status, _headers, body = get(port, path)
    assert status == 404
    assert b"daily_kpis.json" not in body
    assert b"chart.js" not in body


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/%00", {400}),
        ("/data/%00daily_kpis.json", {400}),
        ("/%ff%fe", {400}),
        ("/..%2f..%2f..%2fetc%2fpasswd", {404}),
        ("/../../etc/passwd", {404}),
        ("/.env", {400, 404}),
        ("/nope.json", {404}),
    ],
)
def test_bad_paths_get_an_answer_and_no_traceback(port, path, statuses, capfd):
    status, _headers, body = get(port, path)
    assert status in statuses
    assert b"root:" not in body
    assert b"SECRET" not in body
    assert "Traceback" not in capfd.readouterr().err
    assert get(port, "/")[0] == 200  # the server is still up


def test_host_allowed_is_an_exact_allowlist():
    assert host_allowed("127.0.0.1:8050")
    assert host_allowed("[::1]:1")
    assert not host_allowed(None)
    assert not host_allowed("[::1]x")
    assert not host_allowed("[::1]:0")
    assert not host_allowed("127.0.0.2")
