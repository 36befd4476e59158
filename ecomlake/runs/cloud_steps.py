"""The plan and publish steps as the cloud runs them: the shared run logic, plus the Glue catalog.

Locally the catalog is the snapshot itself (DuckDB views over the versions it names). In AWS,
Athena reads the Glue Data Catalog, which ``ecomlake.runs.glue_catalog`` keeps pointing at
the published versions:

* :func:`plan_step` -- ``plan_run`` (base snapshot, dates, repairs; it also finishes a
  publication interrupted after its commit), then the catalog is brought up to the
  published snapshot if any table lags it. So a run always starts from a catalog that shows
  its base, and a publish step that died between the snapshot commit and the catalog switch
  is completed by the next run at the latest.
* :func:`sync_step` -- the catalog brought to the published snapshot, whatever it shows
  (``{"action": "sync_catalog"}`` to the publish function; the deployment invokes it after a
  ``pulumi up`` that rewrote a catalog table).
* :func:`publish_step` -- ``publish_run`` (audit verdict required, atomic snapshot commit,
  reports, garbage collection keeping the previous snapshot's versions, which the catalog
  still shows), then the catalog switch. A retried invocation whose snapshot is already
  committed does not publish twice (that would be a ``PublishConflictError`` against
  itself): it finishes the publication and switches the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ecomlake.contract import EXECUTION_INPUT_DATES, parse_date, parse_run_id
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError
from ecomlake.runs.glue_catalog import catch_up, sync_catalog
from ecomlake.runs.plan import plan_key, plan_run, read_plan
from ecomlake.runs.publish import Publication, finish_publication, publication_unfinished, publish_run
from ecomlake.snapshots import load_published
from ecomlake.storage import S3Storage

# The publish function's other payload: re-sync the catalog (deploy time, or an operator).
SYNC_CATALOG = "sync_catalog"


class RunNotPlannedError(EcomlakeError):
    """A step of a run found no plan (the plan step did not run, or ran for another run id)."""


def step_run_id(event: Any) -> str:
    """The ``run_id`` of a step payload (the execution name)."""
    if not isinstance(event, Mapping):
        raise InvalidArgumentError(f"event must be an object with a 'run_id', got {type(event).__name__}")
    run_id = event.get("run_id")
    if not isinstance(run_id, str):
        raise InvalidArgumentError(f"event needs a 'run_id' string, got {run_id!r}")
    return parse_run_id(run_id)


def step_dates(event: Any) -> list[str]:
    """The ``dates`` of a step payload: a list of YYYY-MM-DD strings (one string is one date)."""
    raw = event.get(EXECUTION_INPUT_DATES) if isinstance(event, Mapping) else None
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(d, str) for d in raw):
        raise InvalidArgumentError(f"event needs a non-empty 'dates' list of YYYY-MM-DD strings, got {raw!r}")
    return sorted({parse_date(d) for d in raw})


def plan_step(storage: S3Storage, glue: Any, database: str, run_id: str, dates: Iterable[str]) -> dict[str, Any]:
    """Plan run ``run_id`` over ``dates`` and make sure the catalog shows the run's base snapshot."""
    plan = plan_run(storage, run_id, dates)
    base = load_published(storage)
    synced = catch_up(glue, database, base, storage.uri)
    catalog: dict[str, Any] = {"snapshot": base.seq, "caught_up": synced is not None}
    if synced is not None:
        catalog.update(synced.to_dict())
    return {**plan.to_dict(), "catalog": catalog}


def is_sync_request(event: Any) -> bool:
    return isinstance(event, Mapping) and event.get("action") == SYNC_CATALOG


def sync_step(storage: S3Storage, glue: Any, database: str) -> dict[str, Any]:
    """Bring every catalog table to the published snapshot (a full diff: columns and locations)."""
    return {"action": SYNC_CATALOG, **sync_catalog(glue, database, load_published(storage), storage.uri).to_dict()}


def publish_step(storage: S3Storage, glue: Any, database: str, run_id: str) -> dict[str, Any]:
    """Publish run ``run_id`` (it must have passed its audit) and switch the catalog to it."""
    plan = read_plan(storage, run_id)
    if plan is None:
        raise RunNotPlannedError(f"run {run_id} has no plan ({plan_key(run_id)}); the plan step must run first")
    published = load_published(storage)
    if published.run_id == run_id:
        unfinished = publication_unfinished(storage, published)
        publication = finish_publication(storage, published) if unfinished else Publication(published)
        already = True
    else:
        publication = publish_run(storage, run_id, plan.base_seq)
        already = False
    synced = sync_catalog(glue, database, publication.snapshot, storage.uri)
    return {**publication.to_dict(), "already_published": already, "catalog": synced.to_dict()}
