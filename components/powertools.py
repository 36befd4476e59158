"""The AWS-managed Powertools for AWS Lambda (Python) layer every function runs with.

The handlers import ``aws_lambda_powertools`` (logger, tracer, EMF metrics, event classes;
see handlers/_powertools.py). AWS publishes the library as a public layer in every
commercial region, one layer per Python runtime and architecture, so it adds nothing to
the function's code package and costs nothing to store:

    arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-<python311|python312>-<x86_64|arm64>:<N>

Layer versions are numbered by publication, not by library version. ``LAYER_VERSION`` is
the layer that carries ``POWERTOOLS_VERSION`` -- the version pyproject.toml pins for the
tests -- so the code runs in AWS on the library it was tested with (a test checks the two
pins agree). To move to a newer release, change both after looking the pair up with
``aws ssm get-parameter --name /aws/service/powertools/python/x86_64/python3.11/<version>``
(AWS publishes each release's layer ARN there), e.g. 3.23.0 -> layer version 27.

China and GovCloud regions publish the layer from other accounts and at other versions;
this stack targets the commercial partition only and says so instead of guessing an ARN.
"""

from __future__ import annotations

from typing import Final

POWERTOOLS_VERSION: Final = "3.23.0"
LAYER_VERSION: Final = 27
PUBLISHER_ACCOUNT: Final = "017000801446"  # AWS's Powertools account, commercial regions
ARCHITECTURES: Final = ("x86_64", "arm64")


def layer_arn(partition: str, region: str, runtime: str, architecture: str) -> str:
    """The Powertools layer version ARN for a function's runtime (``python3.11``) and architecture."""
    if partition != "aws":
        raise ValueError(f"the Powertools layer account for partition {partition!r} is not configured (only 'aws')")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown Lambda architecture {architecture!r}; expected one of {', '.join(ARCHITECTURES)}")
    if not runtime.startswith("python3."):
        raise ValueError(f"the Powertools Python layer needs a python3.x runtime, got {runtime!r}")
    python = runtime.replace(".", "")  # python3.11 -> python311
    name = f"AWSLambdaPowertoolsPythonV3-{python}-{architecture}"
    return f"arn:{partition}:lambda:{region}:{PUBLISHER_ACCOUNT}:layer:{name}:{LAYER_VERSION}"
