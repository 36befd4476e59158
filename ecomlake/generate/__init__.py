"""Synthetic raw data for the lake: realistic, internally consistent, deterministic.

``generate(out_dir, ...)`` writes the four sources of the seed, one partition per day,
in their raw formats (transactions.csv, products.json, clickstream.json, reviews.csv),
optionally with injected faults, and a ``manifest.json`` that counts every row and
every fault. See ``docs/generator.md`` for the data model and the fault kinds.

Modules: ``config`` (parameters, ids, random streams), ``calendar``, ``customers``,
``products``, ``transactions``, ``clickstream``, ``reviews`` (the entities), ``faults``
(what a bad row looks like), ``writers`` (formats and files), ``manifest``, ``core``.
"""

from ecomlake.generate.config import GenerateParams
from ecomlake.generate.core import STAGES, generate
from ecomlake.generate.faults import FAULT_KINDS
from ecomlake.generate.manifest import MANIFEST_NAME, read_manifest

__all__ = ["FAULT_KINDS", "MANIFEST_NAME", "STAGES", "GenerateParams", "generate", "read_manifest"]
