"""`ecomlake cloud-check`: run a small data set through a deployed stack and compare every answer with the laptop's.

Needs the Pulumi CLI (logged in to the stack's backend) and AWS credentials for the stack's
account; the logic lives in ``ecomlake.local.cloud_check``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecomlake.commands.common import console, positive, print_json, print_table, styled

REPO_ROOT = Path(__file__).resolve().parents[2]


def register(app: typer.Typer) -> None:
    @app.command("cloud-check")
    def cloud_check(
        stack: Annotated[str, typer.Option(help="Pulumi stack to check (Pulumi.<stack>.yaml).")] = "dev",
        destroy: Annotated[bool, typer.Option("--destroy", help="Tear the stack down afterwards.")] = False,
        deploy: Annotated[
            bool, typer.Option("--deploy/--no-deploy", help="Deploy the stack if it is not up (else: stop).")
        ] = True,
        days: Annotated[int, typer.Option(help="Days of generated data to land.")] = 2,
        seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
        timeout: Annotated[int, typer.Option(help="Seconds to wait for the pipeline.")] = 3600,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Deploy or reuse a stack, land generated data, wait for the pipeline, compare Athena with DuckDB."""
        import boto3

        from ecomlake.local.cloud_check import CheckOptions, DataSet, PulumiStack, run_check

        deployer = PulumiStack(stack, REPO_ROOT, on_output=lambda line: console.print(line, end="", markup=False))
        options = CheckOptions(
            data=DataSet(days=positive("days", days), seed=seed),
            timeout_seconds=positive("timeout", timeout),
            destroy=destroy,
            deploy=deploy,
        )
        session = boto3.Session(region_name=deployer.region())
        report = run_check(deployer, session, options, progress=lambda msg: console.print(styled(msg, "dim")))
        if as_json:
            print_json(report.to_dict())
        else:
            for e in report.executions:
                path = report.paths.get(e.name) or "unknown"
                console.print(f"execution {e.name} ({', '.join(e.dates)}): {path} path")
            rows = [
                (c.name, "same" if c.same else "DIFFERENT", c.local_rows, c.cloud_rows, c.bytes_scanned)
                for c in report.comparisons
            ]
            print_table(
                f"Stack {report.stack}: Athena vs local DuckDB ({', '.join(report.dates)})",
                ["query", "answer", "local rows", "cloud rows", "bytes scanned"],
                rows,
            )
            for c in report.comparisons:
                if c.same:
                    continue
                if c.column_mismatch:
                    console.print(
                        f"{c.name}: columns differ: local {c.column_mismatch[0]} cloud {c.column_mismatch[1]}"
                    )
                for row in c.only_local[:5]:
                    console.print(f"{c.name}: only local: {row}", markup=False)
                for row in c.only_cloud[:5]:
                    console.print(f"{c.name}: only cloud: {row}", markup=False)
            if report.cost is not None:
                cost = report.cost.to_dict()
                print_table(
                    f"Estimated cost of the run ({cost['currency']}, list prices)",
                    ["service", "cost"],
                    [*((k, f"{v:.5f}") for k, v in cost["services"].items()), ("total", f"{cost['total']:.5f}")],
                )
        verdict = "every answer matches" if report.ok else "answers differ"
        console.print(f"cloud-check {report.stack}: {verdict}" + (" (stack destroyed)" if report.destroyed else ""))
        if not report.ok:
            raise typer.Exit(1)
