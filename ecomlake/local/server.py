"""The local dashboard server: the built site on a loopback address (``ecomlake dashboard --serve``).

Local only: in AWS the same static files are served by CloudFront from the site bucket.

What it refuses, so that a web page elsewhere cannot read the lake through it:

- a ``Host`` other than ``127.0.0.1``, ``localhost`` or ``[::1]`` (with any port): a DNS
  rebinding page reaches a loopback server under its own host name, and gets 421;
- directory listings (``/data/``, ``/vendor/``): 404 unless the folder has an index.html;
- paths that cannot name a file (``%00``, bad escapes, ``..`` above the site): 400 or 404,
  answered and logged as one line, never a traceback or a dropped connection.

It names no version (``Server: ecomlake``), and sends the page's Content Security Policy.
"""

from __future__ import annotations

import errno
import functools
import os
import posixpath
import socket
import sys
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ecomlake.dashboard import default_site_dir
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError, LakeNotFoundError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SERVER_NAME = "ecomlake"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class ServeError(EcomlakeError):
    """The server could not start (port in use, no permission for the port, ...)."""


def host_allowed(header: str | None) -> bool:
    """True for a Host header naming a loopback address (any port); False for anything else."""
    if not header:
        return False
    host = header.strip().lower()
    if host.startswith("["):  # [::1] or [::1]:8050
        end = host.find("]")
        if end < 0:
            return False
        name, rest = host[1:end], host[end + 1 :]
        if rest and not (rest.startswith(":") and _is_port(rest[1:])):
            return False
        return name == "::1"
    name, sep, port = host.partition(":")
    if sep and not _is_port(port):
        return False
    return name in {"127.0.0.1", "localhost"}


def _is_port(text: str) -> bool:
    return text.isdigit() and 0 < int(text) <= 65535


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files plus headers that keep the page self-contained and fresh after a rebuild."""

    server_version = SERVER_NAME
    sys_version = ""

    def version_string(self) -> str:
        return SERVER_NAME

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        super().end_headers()

    def send_head(self) -> Any:
        if not host_allowed(self.headers.get("Host")):
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "Unknown host: this server answers 127.0.0.1 only")
            return None
        try:
            path = self.translate_path(self.path)
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad path")
            return None
        if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "index.html")):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            return super().send_head()
        except ValueError:  # a path the file system cannot hold (an embedded NUL, ...)
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad path")
            return None

    def translate_path(self, path: str) -> str:
        """The file under the site for a URL path; ``ValueError`` for one that cannot name a file."""
        raw = path.split("?", 1)[0].split("#", 1)[0]
        decoded = urllib.parse.unquote(raw, errors="strict")
        if "\x00" in decoded or "\\" in decoded:
            raise ValueError("bad path")
        parts = [p for p in posixpath.normpath(decoded).split("/") if p and p not in {".", ".."}]
        if any(part.startswith(".") for part in parts):
            raise ValueError("hidden path")  # no dotfiles (a stray .env beside the site)
        result = os.path.join(self.directory, *parts)
        if raw.endswith("/"):
            result += "/"
        return result

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the CLI output


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops its connection, or a request the handler cannot parse: one line, no traceback.
        err = sys.exc_info()[1]
        if isinstance(err, ConnectionError | TimeoutError):
            return
        sys.stderr.write(f"dashboard server: request from {client_address[0]} failed: {err!r}\n")


class _V6Server(_Server):
    address_family = socket.AF_INET6


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
    server_class = _V6Server if bind == "::1" else _Server
    try:
        return server_class((bind, port), handler)
    except OSError as err:
        raise _serve_error(bind, port, err) from None


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Fail now, with ``ServeError``, if ``port`` cannot be bound (before minutes of work that would need it)."""
    if port == 0:
        return
    bind = "127.0.0.1" if host == "localhost" else host
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The same option the server sets, so a port in TIME_WAIT is not mistaken for one in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind, port))
        except OSError as err:
            raise _serve_error(bind, port, err) from None


def _serve_error(bind: str, port: int, err: OSError) -> ServeError:
    where = f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"
    if err.errno == errno.EADDRINUSE:
        return ServeError(
            f"cannot serve on {where}: the port is in use (another server?); "
            "pick another with --port, or --port 0 for any free one"
        )
    if err.errno in {errno.EACCES, errno.EPERM}:
        return ServeError(f"cannot serve on {where}: permission denied (ports below 1024 need root)")
    return ServeError(f"cannot serve on {where}: {(err.strerror or str(err)).lower()}")


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
