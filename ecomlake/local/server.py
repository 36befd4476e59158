"""The local dashboard server: the built site on a loopback address (``ecomlake dashboard --serve``).

Local only: in AWS the same static files are served by CloudFront from the site bucket.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ecomlake.dashboard import default_site_dir
from ecomlake.exceptions import InvalidArgumentError, LakeNotFoundError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files plus headers that keep the page self-contained and fresh after a rebuild."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        )
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the CLI output


def make_server(site: Path, *, port: int = 8050, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server for ``site`` on a loopback address (``port=0`` picks a free port)."""
    if host not in LOOPBACK_HOSTS:
        raise InvalidArgumentError(f"the dashboard server only binds to loopback (127.0.0.1), not {host!r}")
    if not 0 <= port <= 65535:
        raise InvalidArgumentError(f"port must be between 0 and 65535, got {port}")
    if not (Path(site) / "index.html").is_file():
        raise LakeNotFoundError(f"no dashboard at {site}; run `ecomlake dashboard` first")
    handler = functools.partial(SiteHandler, directory=str(site))
    bind = "127.0.0.1" if host == "localhost" else host
    if bind == "::1":
        import socket

        class _V6Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6

        return _V6Server((bind, port), handler)
    return ThreadingHTTPServer((bind, port), handler)


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}:{port}/"


def serve(
    lake: Path,
    port: int = 8050,
    host: str = "127.0.0.1",
    *,
    site: Path | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the built site until interrupted (Ctrl-C). ``on_ready`` receives the URL."""
    server = make_server(site or default_site_dir(lake), port=port, host=host)
    try:
        if on_ready:
            on_ready(server_url(server))
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
