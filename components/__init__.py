"""The Pulumi program's building blocks: one ``ComponentResource`` per layer of the lake.

``lake`` (DataLake), ``catalog`` (Catalog), ``etl`` (Etl), ``orchestration`` (Orchestration),
``analytics`` (Analytics), ``observability`` (Alerts, Observability), ``dashboard`` (Dashboard)
and ``functions`` (LambdaFunction, used by the others); plus pure helpers with no cloud calls:
``iam`` (policy documents), ``naming`` (resource and bucket names), ``settings`` (stack
configuration), ``packaging`` (what ships to Lambda and Glue), ``buckets`` (bucket hardening).
Component type tokens are ``ecomlake:index:<Name>``.
"""
