"""Logs, metrics and traces of the functions on AWS; CORS wherever it is configured.

`instrument(app)` (called by the app factory) adds at most two ASGI middlewares:

- CORS (Starlette's), only when `LAMBDAROUTER_CORS_ORIGINS` names origins: closed by default.
- On AWS only (`AWS_LAMBDA_FUNCTION_NAME` is set), `Telemetry`, which per request
  - makes the API Gateway request id the correlation id of every log line of the package (Powertools
    Logger, JSON): Mangum hands the event over in `scope["aws.event"]`; the Lambda Web Adapter forwards it
    as the `x-amzn-request-context` header;
  - writes one access line: method, path, route, status, duration. Never a header (the key travels in
    one) nor a body (the prompt is one), unless `LAMBDAROUTER_LOG_PROMPTS=1` adds the request body;
  - emits the EMF metrics `Requests` and `RequestLatency` by status class (the route as a property, not a
    dimension); the Web Adapter's readiness probe is not an invocation and is left alone;
  - opens an X-Ray subsegment when tracing is on (the Lambda runtime, Active tracing); Powertools Tracer
    patches httpx (the provider calls) and botocore (Bedrock, S3, the idempotency table) beforehand, and the
    gateway's own AWS client (DynamoDB, Secrets Manager: lambdarouter/aws) opens a subsegment per call.

Off AWS nothing of Powertools or X-Ray is imported: `lambdarouter serve` keeps uvicorn's own logs and pays
no start-up cost for them. `emit_generation_metrics` is what the service calls once per ledger record.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from functools import cache
from importlib import util as importlib_util
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any

from msgspec import Struct
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambdarouter.core import config

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Tracer
    from starlette.applications import Starlette

    from lambdarouter.store import GenerationRecord

PACKAGE = "lambdarouter"
# Response headers a browser script may read: the generation id, OpenRouter's rate-limit headers and the rest
# of what the gateway adds on purpose.
EXPOSED_HEADERS = ("x-generation-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                   "retry-after", "server-timing", "idempotent-replayed",
                   "request-id", "x-token-count")  # /messages: the Anthropic SDKs' request id; how tokens were counted
CORS_METHODS = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
# Request bodies logged under LAMBDAROUTER_LOG_PROMPTS=1 are cut here (a log event holds at most 256 KB).
MAX_LOGGED_BODY = 64 * 1024
UNMATCHED = "unmatched"
# X-Ray patch → the module whose import means the process uses it (Powertools imports botocore's top package
# for its user agent alone; clients come with botocore.client). httpx: provider calls; botocore: Bedrock, S3 and
# the idempotency table; `AWS_CLIENT`: DynamoDB and Secrets Manager (lambdarouter/aws, traced by its own hook).
AWS_CLIENT = "lambdarouter.aws.client"
TRACED_MODULES = {"httpx": "httpx", "botocore": "botocore.client", AWS_CLIENT: AWS_CLIENT}

logger = logging.getLogger(__name__)


def on_aws() -> bool:
    return config.current().on_lambda


def cors_origins(environ: Mapping[str, str] | None = None) -> list[str]:
    settings = config.Settings.from_env(environ) if environ is not None else config.current()
    return list(settings.cors_origins)


def log_prompts() -> bool:
    return config.current().log_prompts


def service_name() -> str:
    return config.current().service_name


def metrics_namespace() -> str:
    return config.current().metrics_namespace


def tracing_enabled() -> bool:
    """X-Ray only where a daemon listens: inside Lambda (not `sam local`), unless switched off."""
    return config.current().tracing


# -- the pieces, built once per process on first use ---------------------------------------------------------


@cache
def powertools_logger() -> Logger:
    """The package's logger in Powertools' JSON: `lambdarouter.*` loggers propagate into it."""
    from aws_lambda_powertools import Logger

    level = config.current().log_level
    log = Logger(service=service_name(), level=level, stream=sys.stdout)
    package = logging.getLogger(PACKAGE)
    if log.name != PACKAGE:  # another service name: the package's records still go through the same handler
        package.handlers = [log.registered_handler]
        package.setLevel(level)
        package.propagate = False
    return log


@cache
def tracer() -> Tracer | None:
    """Powertools Tracer with httpx and botocore patched, or None where tracing is off.

    A traced module already in use is patched now, before any client exists (transport.py creates the
    upstream client on the first request); one not imported yet is patched when something first imports it,
    so the catalog function, which never touches AWS, does not import botocore's client (~50 ms) to patch it.
    Responses and errors are never captured as metadata (POWERTOOLS_TRACER_CAPTURE_* in the template, and no
    method here is decorated): a provider's answer is a user's data.
    """
    if not tracing_enabled():
        return None
    try:
        from aws_lambda_powertools import Tracer
    except ImportError:  # pragma: no cover - the layer ships aws-xray-sdk
        return None
    try:
        # Not `patch_modules=`: Powertools reads an empty list as "patch everything".
        active = Tracer(service=service_name(), auto_patch=False)
        present = [patch for patch, module in TRACED_MODULES.items() if module in sys.modules]
        for patch in present:
            _patch(active, patch)
        waiting = {module: patch for patch, module in TRACED_MODULES.items() if patch not in present}
        if waiting:
            sys.meta_path.insert(0, _PatchOnImport(active, waiting))
        return active
    except Exception:  # tracing must never take a function down
        logger.warning("X-Ray tracing could not start", exc_info=True)
        return None


def _patch(active: Tracer, patch: str) -> None:
    if patch == AWS_CLIENT:
        from lambdarouter.aws import client
        from lambdarouter.aws.tracing import xray_subsegment

        client.span = xray_subsegment
    else:
        active.patch([patch])


class _PatchOnImport:
    """Patches a traced module for X-Ray right after its first import (a `sys.meta_path` finder; not derived
    from importlib.abc.MetaPathFinder, whose import costs every process ~2 ms)."""

    def __init__(self, active: Tracer, waiting: dict[str, str]) -> None:
        self.active, self.waiting = active, waiting  # module -> its X-Ray patch

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        patch = self.waiting.pop(fullname, None)
        if patch is None:
            return None
        # From here on the regular finders answer for it (this finder no longer knows the name).
        spec = importlib_util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            parent, _, child = fullname.rpartition(".")
            if parent:  # what the import system does next; the patch reaches the module through its parent
                setattr(sys.modules[parent], child, module)
            try:
                _patch(self.active, patch)
            except Exception:
                logger.warning("X-Ray could not patch %s", patch, exc_info=True)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def route_labels(routes: list[BaseRoute], prefix: str = "") -> dict[Callable[..., Any], str]:
    """Endpoint → its path template (without the /api/v1 or /v1 mount): a bounded metric dimension."""
    labels: dict[Callable[..., Any], str] = {}
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            mounted = route_labels(list(route.routes), prefix)
            labels.update({endpoint: path for endpoint, path in mounted.items() if endpoint not in labels})
        elif isinstance(route, Route):
            labels.setdefault(route.endpoint, prefix + route.path)
    return labels


def instrument(app: Starlette) -> None:
    """CORS when origins are configured; logs, metrics and traces on AWS."""
    origins = cors_origins()
    if origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=CORS_METHODS,
                           allow_headers=["*"], expose_headers=EXPOSED_HEADERS, max_age=600)
    if on_aws():
        powertools_logger()
        tracer()
        app.add_middleware(Telemetry, labels=route_labels(app.routes))  # outermost: times CORS answers too


# -- per request -----------------------------------------------------------------------------------------------


class RequestIds(Struct, frozen=True):
    correlation_id: str | None  # API Gateway's request id
    lambda_request_id: str | None
    trace_header: str | None  # the invocation's X-Ray header, where the process must be told (Web Adapter)


def _header_json(scope: Scope, name: bytes) -> dict[str, Any]:
    for key, value in scope.get("headers") or ():
        if key == name:
            try:
                parsed = json.loads(value)
            except ValueError:
                return {}
            return parsed if isinstance(parsed, dict) else {}
    return {}


def request_ids(scope: Scope) -> RequestIds:
    """Mangum passes the event and context in the scope; the Web Adapter forwards both as JSON headers."""
    event = scope.get("aws.event")
    if isinstance(event, dict):
        context = scope.get("aws.context")
        return RequestIds((event.get("requestContext") or {}).get("requestId"),
                          getattr(context, "aws_request_id", None), None)
    request_context = _header_json(scope, b"x-amzn-request-context")
    lambda_context = _header_json(scope, b"x-amzn-lambda-context")
    return RequestIds(request_context.get("requestId"),
                      lambda_context.get("request_id") or lambda_context.get("aws_request_id"),
                      lambda_context.get("xray_trace_id"))


def _readiness_probe(scope: Scope) -> bool:
    """The Lambda Web Adapter's GET of AWS_LWA_READINESS_CHECK_PATH while the function starts: not an invocation
    (no `x-amzn-request-context`), so neither logged nor counted, and the first real request stays `cold_start`."""
    path = config.current().readiness_check_path
    return bool(path) and scope.get("path") == path and not any(
        key == b"x-amzn-request-context" for key, _ in scope.get("headers") or ())


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class Telemetry:
    """Pure ASGI (no BaseHTTPMiddleware): a streamed response passes through untouched, chunk by chunk."""

    def __init__(self, app: ASGIApp, labels: Mapping[Callable[..., Any], str]) -> None:
        self.app = app
        self.labels = labels
        self.cold = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _readiness_probe(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        ids = request_ids(scope)
        log = powertools_logger()
        log.append_keys(correlation_id=ids.correlation_id, lambda_request_id=ids.lambda_request_id,
                        cold_start=self.cold)
        self.cold = False
        status = 500  # what the client gets if the app raises before answering
        body = bytearray()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < MAX_LOGGED_BODY:
                body.extend(message.get("body", b"")[: MAX_LOGGED_BODY - len(body)])
            return message

        prompts = log_prompts()  # read once per request (config.current() compares every variable it reads)
        try:
            async with _subsegment(ids):
                await self.app(scope, receiving if prompts else receive, sending)
        finally:
            route = self.labels.get(scope.get("endpoint"), UNMATCHED)  # type: ignore[arg-type]
            elapsed_ms = (time.perf_counter() - started) * 1000
            extra: dict[str, Any] = {"method": scope["method"], "path": scope["path"], "route": route,
                                     "status": status, "duration_ms": round(elapsed_ms, 3)}
            if prompts and body:
                extra["request_body"] = body.decode("utf-8", "replace")
            log.info("request", extra=extra)
            _emit_request_metrics(route, status, elapsed_ms)


def _subsegment(ids: RequestIds) -> AbstractAsyncContextManager[Any]:
    active = tracer()
    if active is None:
        return nullcontext()
    if ids.trace_header:
        # Under the Web Adapter this process is not the Lambda runtime: X-Ray's Lambda context reads the
        # invocation's trace header from this variable, which only the adapter's own process gets.
        os.environ["_X_AMZN_TRACE_ID"] = ids.trace_header
    return active.provider.in_subsegment_async(name="## request")


# -- metrics -------------------------------------------------------------------------------------------------------


def _emit(dimensions: Mapping[str, str], values: list[tuple[str, str, float]],
          metadata: Mapping[str, Any] | None = None) -> None:
    """One EMF document (a JSON log line CloudWatch turns into metrics); never raises."""
    try:
        from aws_lambda_powertools.metrics import EphemeralMetrics

        metrics = EphemeralMetrics(namespace=metrics_namespace(), service=service_name())
        for name, value in dimensions.items():
            metrics.add_dimension(name, value)
        for name, unit, number in values:
            metrics.add_metric(name=name, unit=unit, value=number)
        for key, item in (metadata or {}).items():
            metrics.add_metadata(key, item)  # searchable in Logs Insights, no metric (no cost) of its own
        metrics.flush_metrics()
    except Exception:
        logger.warning("metrics were not emitted", exc_info=True)


def _emit_request_metrics(route: str, status: int, elapsed_ms: float) -> None:
    """Two metrics by status class (at most 2 x 4 billed metrics per stack); the route rides along as a property,
    queryable in Logs Insights: as a dimension it multiplied the metrics by the number of routes."""
    _emit({"status_class": status_class(status)},
          [("Requests", "Count", 1), ("RequestLatency", "Milliseconds", elapsed_ms)], {"route": route})


def emit_generation_metrics(record: GenerationRecord) -> None:
    """The metrics of one ledger record: counts, latency, time to first token, tokens and cost.

    One dimension, `provider` (a catalog host, or "none" when no endpoint answered): every further
    dimension multiplies the custom metrics CloudWatch bills monthly. The model and the generation id go
    along as EMF metadata (queryable in Logs Insights, not metrics); the key never does. No-op off AWS.
    """
    if not on_aws():
        return
    values: list[tuple[str, str, float]] = [
        ("Generations", "Count", 1),
        ("GenerationErrors", "Count", 1 if record.status == "error" else 0),
        ("GenerationsAborted", "Count", 1 if record.status == "aborted" else 0),
        ("GenerationLatency", "Milliseconds", record.latency_ms),
        ("PromptTokens", "Count", record.prompt_tokens),
        ("CompletionTokens", "Count", record.completion_tokens),
        ("Cost", "None", float(record.cost)),  # USD; CloudWatch has no currency unit
        # A provider's usage claimed more than the request could cost; booked at its reservation (core/pricing).
        ("UsageAnomalies", "Count", 1 if record.anomaly else 0),
    ]
    if record.streamed and record.first_token_ms is not None:
        values.append(("TimeToFirstToken", "Milliseconds", record.first_token_ms))
    _emit({"provider": record.provider or "none"}, values,
          {"generation_id": record.id, "model": record.model, "status": record.status, "streamed": record.streamed})
