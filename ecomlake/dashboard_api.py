"""The dashboard's JSON, and the API that serves it from Athena in the cloud.

Both the local build (``ecomlake.dashboard.build``) and the Lambda API (``handlers/api.py``)
produce the same payload per query -- ``{"query", "columns", "rows": [{column: value}], "params"}``
-- so the page reads either without caring where it runs.

The API answers ``GET /api/<query>?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD&...``:

- the query name must be one of ``QUERY_NAMES`` (else 404) and each parameter one the query
  declares, with a valid value (else 400 with a JSON message naming the parameter);
- the SQL is the same ``sql/<query>.sql`` text the local engine runs, with parameters
  substituted by ``ecomlake.queries``, executed by Athena in the stack's workgroup;
- answers are kept in a small in-memory TTL cache for the life of the warm Lambda, and sent
  with ``Cache-Control`` so CloudFront serves repeats without invoking the function;
- CORS allows the dashboard's own origin only.

Nothing here imports boto3 or awswrangler at module level: the Lambda pays for them on the
first Athena call, and the local build never does.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ecomlake.contract import EnvVar
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError, UnknownQueryError

log = logging.getLogger(__name__)

# The allowlist: the analytics queries the dashboard charts (one sql/<name>.sql each).
QUERY_NAMES: tuple[str, ...] = (
    "daily_kpis",
    "revenue_trends",
    "revenue_by_category",
    "top_products",
    "conversion_funnel",
    "customer_segments",
    "customer_ltv",
    "ltv_distribution",
    "return_rates",
    "product_recommendations",
)

API_PREFIX = "api"
DEFAULT_CACHE_SECONDS = 300
CACHE_MAX_ENTRIES = 256
MAX_RANGE_DAYS = 3 * 366  # bounds what one request can make Athena scan
MAX_PARAMS = 16
MAX_PARAM_CHARS = 100
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# --------------------------------------------------------------------------- payloads


def jsonable(value: Any) -> Any:
    """A JSON-ready scalar: decimals as numbers, dates as ISO text, NaN/NA as null."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return None if not value.is_finite() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    # numpy / pandas scalars (Athena results arrive as a DataFrame)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if type(value).__name__ in {"NAType", "NaTType"}:
        return None
    return str(value)


def query_payload(
    name: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON document for one query result (same shape locally and from the API)."""
    cols = [str(c) for c in columns]
    return {
        "query": name,
        "columns": cols,
        "rows": [{c: jsonable(v) for c, v in zip(cols, row, strict=True)} for row in rows],
        "params": {str(k): jsonable(v) for k, v in sorted((params or {}).items())},
    }


def canonical_json(payload: Any) -> str:
    """Deterministic JSON text (sorted keys, fixed separators) ending in a newline."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- parameter validation


class ApiError(EcomlakeError):
    """A request the API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        self.status, self.code, self.extra = status, code, extra
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self), **self.extra}


def check_params(query: str, raw: Mapping[str, str], allowed: Sequence[str]) -> dict[str, str]:
    """The request's parameters if each is one ``query`` declares, within the API's limits.

    Values are typed and bounded afterwards by the query's own declarations
    (``ecomlake.queries.resolve_params``); this adds what matters for a public endpoint:
    no unknown names, short values, and a bounded date range.
    """
    if len(raw) > MAX_PARAMS:
        raise ApiError(400, "invalid_parameter", f"too many parameters ({len(raw)}); at most {MAX_PARAMS}")
    unknown = sorted(k for k in raw if k not in allowed)
    if unknown:
        expected = ", ".join(allowed) if allowed else "none"
        raise ApiError(400, "unknown_parameter", f"{query} does not take {', '.join(unknown)}; it takes: {expected}")
    checked: dict[str, str] = {}
    for key, value in sorted(raw.items()):
        text = value.strip()
        if len(text) > MAX_PARAM_CHARS:
            raise ApiError(400, "invalid_parameter", f"{key} is longer than {MAX_PARAM_CHARS} characters")
        if key.endswith("_date") and not _DATE_RE.match(text):
            raise ApiError(400, "invalid_parameter", f"{key} must be a date written YYYY-MM-DD, got {value!r}")
        checked[key] = text
    return checked


def check_range(values: Mapping[str, Any]) -> None:
    """A resolved date range may span at most MAX_RANGE_DAYS (it bounds the bytes Athena scans)."""
    start, end = values.get("start_date"), values.get("end_date")
    if isinstance(start, date) and isinstance(end, date) and (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ApiError(400, "invalid_parameter", f"the date range may span at most {MAX_RANGE_DAYS} days")


def resolve_query(name: str) -> str:
    if not _NAME_RE.match(name) or name not in QUERY_NAMES:
        raise ApiError(404, "unknown_query", f"unknown query {name!r}", queries=list(QUERY_NAMES))
    return name


# --------------------------------------------------------------------------- cache


@dataclass
class TTLCache:
    """A small thread-safe LRU cache whose entries expire ``ttl`` seconds after they are stored."""

    ttl: float = DEFAULT_CACHE_SECONDS
    max_entries: int = CACHE_MAX_ENTRIES
    clock: Callable[[], float] = time.monotonic
    _items: OrderedDict[Any, tuple[float, Any]] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, key: Any) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            expires, value = hit
            if self.clock() >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = (self.clock() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


# --------------------------------------------------------------------------- running a query


# sql text -> (columns, rows)
SqlRunner = Callable[[str], "tuple[list[str], list[tuple[Any, ...]]]"]


def declared_params(name: str) -> list[str]:
    """The parameter names ``sql/<name>.sql`` declares."""
    from ecomlake.queries import load_query

    return list(load_query(name).params)


def prepare_sql(name: str, params: Mapping[str, str], runner: SqlRunner) -> tuple[str, dict[str, Any]]:
    """(Athena SQL, resolved parameter values) for a query, bound exactly as ``ecomlake.queries`` binds it.

    Defaults that depend on the data (``latest(fact_sales)``) are found with a one-value
    query on Athena, as the local engine finds them on DuckDB.
    """
    from ecomlake.queries import load_query, render, resolve_params

    def scalar(sql: str) -> Any:
        _columns, rows = runner(sql)
        return rows[0][0] if rows else None

    spec = load_query(name)
    values = resolve_params(spec, params, scalar)
    check_range(values)
    return render(spec, values), values


def athena_runner(
    *,
    database: str | None = None,
    workgroup: str | None = None,
    boto3_session: Any | None = None,
) -> SqlRunner:
    """Run SQL on Athena through awswrangler (database and workgroup default to the Lambda's env)."""
    db = database or os.environ.get(EnvVar.GLUE_DATABASE)
    wg = workgroup or os.environ.get(EnvVar.ATHENA_WORKGROUP)
    if not db or not wg:
        raise ApiError(500, "misconfigured", f"{EnvVar.GLUE_DATABASE} and {EnvVar.ATHENA_WORKGROUP} must be set")

    def run(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        import awswrangler as wr

        # CSV results, not CTAS: dashboard answers are small, and CTAS would need Glue write access.
        frame = wr.athena.read_sql_query(
            sql,
            database=db,
            workgroup=wg,
            ctas_approach=False,
            boto3_session=boto3_session,
            athena_query_wait_polling_delay=0.25,
        )
        frame = frame.astype(object).where(frame.notna(), None)
        return [str(c) for c in frame.columns], [tuple(r) for r in frame.itertuples(index=False, name=None)]

    return run


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class ApiConfig:
    """What the handler needs from its environment."""

    origin: str | None
    cache_seconds: int = DEFAULT_CACHE_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiConfig:
        env = os.environ if environ is None else environ
        raw = env.get(EnvVar.API_CACHE_SECONDS, "")
        seconds = int(raw) if raw.strip().isdigit() else DEFAULT_CACHE_SECONDS
        return cls(origin=(env.get(EnvVar.DASHBOARD_ORIGIN) or None), cache_seconds=seconds)


def _headers(config: ApiConfig, *, cache: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Origin",
    }
    if config.origin:
        headers["Access-Control-Allow-Origin"] = config.origin
        headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        headers["Access-Control-Allow-Headers"] = "Content-Type"
        headers["Access-Control-Max-Age"] = "600"
    return headers


def response(status: int, body: Any, config: ApiConfig, *, cache: str | None = None) -> dict[str, Any]:
    """A Lambda proxy response (API Gateway / Function URL / CloudFront origin)."""
    if cache is None:
        cache = (
            f"public, max-age={config.cache_seconds}, s-maxage={config.cache_seconds}" if status == 200 else "no-store"
        )
    text = body if isinstance(body, str) else canonical_json(body)
    return {"statusCode": status, "headers": _headers(config, cache=cache), "body": text, "isBase64Encoded": False}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]


def parse_event(event: Mapping[str, Any]) -> Request:
    """Method, path and query parameters from an API Gateway v1/v2 or Function URL event."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or event.get("httpMethod") or "GET").upper()
    path = str(event.get("rawPath") or event.get("path") or "/")
    multi = event.get("multiValueQueryStringParameters") or {}
    for key, values in multi.items():
        if isinstance(values, list) and len(values) > 1:
            raise ApiError(400, "invalid_parameter", f"{key} is given more than once")
    single = event.get("queryStringParameters") or {}
    params = {str(k): str(v) for k, v in single.items() if v is not None}
    return Request(method, path, params)


def route(path: str) -> str | None:
    """The query name in ``.../api/<name>``; ``None`` for the index (``.../api`` or ``.../api/``)."""
    parts = [p for p in path.split("/") if p]
    if API_PREFIX not in parts:
        raise ApiError(404, "not_found", f"no such path {path!r}; use /{API_PREFIX}/<query>")
    rest = parts[parts.index(API_PREFIX) + 1 :]
    if not rest:
        return None
    if len(rest) > 1:
        raise ApiError(404, "not_found", f"no such path {path!r}; use /{API_PREFIX}/<query>")
    return rest[0]


def _log_error(message: str, err: BaseException) -> None:
    log.error(message, exc_info=err)


@dataclass
class Api:
    """The API's state across warm invocations: its cache, and how it reaches Athena."""

    runner: SqlRunner | None = None
    cache: TTLCache = field(default_factory=TTLCache)
    config: ApiConfig = field(default_factory=ApiConfig.from_env)
    params_for: Callable[[str], Sequence[str]] = declared_params
    # Builds the Athena runner on the first cache miss (the environment is read then, not at import).
    runner_factory: Callable[[], SqlRunner] = athena_runner
    log_error: Callable[[str, BaseException], None] = _log_error

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            request = parse_event(event)
            if request.method == "OPTIONS":
                return response(204, "", self.config, cache="public, max-age=600")
            if request.method not in {"GET", "HEAD"}:
                raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed; use GET")
            name = route(request.path)
            if name is None:
                return response(200, self.index(), self.config)
            return self.query(resolve_query(name), request.params)
        except ApiError as err:
            return response(err.status, err.body(), self.config)
        except UnknownQueryError as err:
            return response(404, {"error": "unknown_query", "message": str(err)}, self.config)
        except InvalidArgumentError as err:
            # Bad values, as the query's own parameter declarations judge them.
            return response(400, {"error": "invalid_parameter", "message": str(err)}, self.config)
        except Exception as err:
            # The caller gets a generic message; the details go to the function's log.
            self.log_error("dashboard API request failed", err)
            return response(502, {"error": "query_failed", "message": "the query could not be run"}, self.config)

    def index(self) -> dict[str, Any]:
        return {"queries": [{"name": n, "params": list(self.params_for(n))} for n in QUERY_NAMES]}

    def query(self, name: str, raw_params: Mapping[str, str]) -> dict[str, Any]:
        params = check_params(name, raw_params, self.params_for(name))
        key = (name, tuple(sorted(params.items())))
        body = self.cache.get(key)
        state = "HIT"
        if body is None:
            state = "MISS"
            if self.runner is None:
                self.runner = self.runner_factory()
            runner = self.runner
            sql, values = prepare_sql(name, params, runner)
            columns, rows = runner(sql)
            body = canonical_json(query_payload(name, columns, rows, params=values))
            self.cache.put(key, body)
        result = response(200, body, self.config)
        result["headers"]["X-Cache"] = state
        return result
