"""`ecomlake asl`: print the Step Functions definition generated from the pipeline spec.

Resource names are placeholders shaped like a stack's real ones (``ecomlake-<stage>-...``
in a dummy account); the deployed definition is the same document with the real ARNs,
rendered by Pulumi from the same function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecomlake.commands.common import file_for_writing, say
from ecomlake.exceptions import InvalidArgumentError


def register(app: typer.Typer) -> None:
    @app.command()
    def asl(
        stage: Annotated[str, typer.Option(help="Stack stage the placeholder names are built for.")] = "dev",
        output: Annotated[
            Path | None, typer.Option("--output", help="Write to this file instead of stdout.", show_default=False)
        ] = None,
        diagram: Annotated[
            bool, typer.Option("--mermaid", help="Print a mermaid flowchart of the states instead of the JSON.")
        ] = False,
    ) -> None:
        """Print the generated Step Functions (ASL) definition, with placeholder ARNs for a stage."""
        from ecomlake.asl import PipelineResources, definition, mermaid

        try:
            resources = PipelineResources.placeholders(stage)
        except ValueError as err:
            raise InvalidArgumentError(str(err)) from None
        document = definition(resources)
        text = mermaid(document) if diagram else json.dumps(document, indent=2) + "\n"
        if output is None:
            typer.echo(text, nl=False)
            return
        file_for_writing(output, "--output")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        say(f"wrote {output}")
