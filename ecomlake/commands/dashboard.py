"""`ecomlake dashboard`: build the dashboard's data from the lake; optionally serve it on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecomlake.commands.common import (
    LakeOption,
    console,
    directory_for_writing,
    interactive,
    lake_for_writing,
    print_table,
    say,
)
from ecomlake.exceptions import InvalidArgumentError


def register(app: typer.Typer) -> None:
    @app.command()
    def dashboard(
        lake: LakeOption = None,
        serve: Annotated[bool, typer.Option("--serve", help="Serve the site on 127.0.0.1 after building it.")] = False,
        port: Annotated[int, typer.Option(help="Port to serve on (0 picks a free one).")] = 8050,
        out: Annotated[
            Path | None, typer.Option("--out", help="Site directory (default <lake>/_site).", show_default=False)
        ] = None,
    ) -> None:
        """Run the analytics queries and write the dashboard (HTML + JSON); --serve to view it."""
        from ecomlake import dashboard as dash
        from ecomlake.local import server

        if not 0 <= port <= 65535:
            raise InvalidArgumentError(f"--port must be between 0 and 65535, got {port}")
        root = lake_for_writing(lake, must_exist=True)
        if out is not None:
            directory_for_writing(out, "--out")
        if serve:
            server.check_port(port)  # before the build, so a busy port costs nothing
        if interactive():
            with console.status("running the analytics queries"):
                site = dash.build(root, out)
        else:
            site = dash.build(root, out)
        manifest = json.loads((site / dash.DATA_DIR / dash.MANIFEST).read_text(encoding="utf-8"))
        print_table(
            "Dashboard data",
            ["dataset", "rows", "file"],
            [(name, info["rows"], info["file"]) for name, info in manifest["queries"].items()],
        )
        span = manifest["date_range"]
        say(f"dates: {span['start'] or '-'} .. {span['end'] or '-'}")
        say(f"site: {site / 'index.html'}")
        if serve:
            server.serve(
                root,
                port=port,
                site=site,
                on_ready=lambda url: say(f"serving the dashboard at {url}  (Ctrl-C to stop)"),
            )
