"""ecomlake: an e-commerce analytics lake that runs on AWS and, whole, on one machine.

This package is the shared runtime: names and schemas, validation, ETL transforms,
data-quality rules, the pipeline spec and its local runner, the SQL runner and the CLI.
It never imports Pulumi; the infrastructure program imports it, not the other way round.
"""

__version__ = "0.1.0"
