"""Local-only tools: the pipeline runner and its lake lock, the demo, the benchmark and the dashboard server.

Nothing here ships to AWS: the Lambda package and the Glue zip leave this package out
(``components/packaging.py``), and no handler or Glue job imports it.
"""
