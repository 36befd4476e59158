"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, and local dashboard servers.

No browser download: Playwright launches the system Chromium by path. Every server binds
127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ecomlake import dashboard
from ecomlake.dashboard_api import Api, ApiConfig, TTLCache
from ecomlake.local import server as local_server
from tests.unit.dashboard.dashboard_fakes import FakeAthena, write_dq_reports, write_partitions

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO_ROOT / "test-output"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class PageLog:
    """What a page did: console errors, uncaught exceptions, and every URL it requested."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", lambda req: self.requests.append(req.url))

    def offsite(self, allowed_prefix: str) -> list[str]:
        return [u for u in self.requests if not (u.startswith(allowed_prefix) or u.startswith("data:"))]


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., tuple[Any, PageLog]]]:
    contexts: list[Any] = []

    def _open(url: str, *, width: int = 1400, height: int = 900) -> tuple[Any, PageLog]:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        log = PageLog()
        log.attach(page)
        page.goto(url)
        page.wait_for_selector("body[data-state]", timeout=15_000)
        return page, log

    yield _open
    for context in contexts:
        context.close()


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def built_site(lake: Path) -> Path:
    """A site built from the fake query results, with partitions and two DQ reports in the lake."""
    write_partitions(lake)
    write_dq_reports(lake)
    return dashboard.build(lake, runner=FakeAthena())


@pytest.fixture
def site_url(built_site: Path) -> Iterator[str]:
    server = local_server.make_server(built_site, port=0)
    serve_in_thread(server)
    yield local_server.server_url(server)
    server.shutdown()
    server.server_close()


def _api_handler(site: Path, api: Api) -> type:
    class Handler(local_server.SiteHandler):
        """The static site plus /api/* answered by the Lambda API's code, as CloudFront would route it."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(site), **kwargs)

        def do_GET(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            if not parsed.path.startswith("/api"):
                super().do_GET()
                return
            params = dict(urllib.parse.parse_qsl(parsed.query))
            event = {
                "rawPath": parsed.path,
                "queryStringParameters": params or None,
                "requestContext": {"http": {"method": "GET", "path": parsed.path}},
            }
            result = api.handle(event)
            payload = result["body"].encode("utf-8")
            self.send_response(result["statusCode"])
            for key, value in result["headers"].items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@dataclass
class ApiSite:
    url: str
    athena: FakeAthena


@pytest.fixture
def make_api_site(tmp_path: Path) -> Iterator[Callable[..., ApiSite]]:
    """The page as deployed (config.js apiBase "/api") with /api served by the Lambda API's code.

    ``snapshot=True`` also uploads the data/ files the cloud refresh step writes.
    """
    servers: list[ThreadingHTTPServer] = []

    def _make(*, snapshot: bool) -> ApiSite:
        site = tmp_path / f"cloud-site-{len(servers)}"
        (site / "vendor").mkdir(parents=True)
        for name in dashboard.STATIC_FILES:
            (site / name).parent.mkdir(parents=True, exist_ok=True)
            (site / name).write_bytes((dashboard.STATIC_DIR / name).read_bytes())
        for path in (dashboard.STATIC_DIR / "vendor").iterdir():
            (site / "vendor" / path.name).write_bytes(path.read_bytes())
        (site / "config.js").write_text(f"window.ECOMLAKE_CONFIG = {json.dumps({'apiBase': '/api'})};\n")
        if snapshot:
            (site / "data").mkdir()
            for key, text in dashboard.cloud_data_files(FakeAthena()).items():
                (site / key).write_text(text, encoding="utf-8")
        athena = FakeAthena()
        api = Api(runner=athena, cache=TTLCache(), config=ApiConfig(origin=None))
        server = ThreadingHTTPServer(("127.0.0.1", 0), _api_handler(site, api))
        servers.append(server)
        serve_in_thread(server)
        return ApiSite(local_server.server_url(server), athena)

    yield _make
    for server in servers:
        server.shutdown()
        server.server_close()
