"""A Lambda function's app (`functions/*/app.py`): its route groups, and what its init phase builds.

Where the cold start's work goes. Lambda runs a function's init (the entry module's import; under the Web
Adapter, until the readiness check answers) before it hands over the first request, and the cold start a client
sees is init + first request either way. So whatever every request of the function needs and costs only CPU is
built here, in the init, not on the first request's path:

- the store and its DynamoDB client (lambdarouter/aws: the endpoint, the credentials chain, the TLS context),
  and the Secrets Manager client where the function reads a secret;
- for the inference functions, the gateway (catalog, credentials, retry policy) and the TLS context of the
  upstream client (the CA bundle, ~25 ms).

Why the init rather than the first request: "for functions using unreserved (on-demand) concurrency, Lambda
occasionally pre-initializes execution environments" (Lambda developer guide, execution environment lifecycle,
Init phase), and then no client waits for that work at all; a function with SnapStart restores it from the
snapshot; on a true cold start it costs the same. Since August 2025 the init of on-demand functions is billed like
any other duration (AWS Compute Blog, "AWS Lambda standardizes billing for INIT Phase"): the choice is about
latency, not price. What needs the network stays on the request path: reading a secret (cached per TTL,
`core/credentials.py`) and every table access. Nothing here may stop a function from starting: a failure is logged
and the first request builds the piece again and answers with the error in its dialect (a 503 for a store that is
not configured).

The collector: an init allocates hundreds of thousands of objects (modules, classes, pydantic schemas) and frees
almost none, so the entry module switches the cyclic collector off before its imports (`gc.disable()`) and
`function_app` switches it on again after moving everything built so far out of its way (`gc.freeze()`): what
the init built lives as long as the process, and no later collection scans it again. Measured (A/B, CPU to the
first answer): ~35 ms fewer on the chat and key functions' cold starts (docs/deployment.md, "Cold start").
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from lambdarouter.http.app import create_app

if TYPE_CHECKING:
    from starlette.applications import Starlette

logger = logging.getLogger(__name__)

# Route groups (http/app.py) by what their requests need besides the app itself.
INFERENCE_GROUPS = frozenset({"chat_completions", "completions", "messages", "responses", "embeddings", "images"})
ADMIN_GROUPS = frozenset({"keys", "credits", "usage"})  # the management key: its own secret on AWS
STORE_GROUPS = INFERENCE_GROUPS | ADMIN_GROUPS | {"key", "generation"}


def function_app(groups: Collection[str], deferred: Collection[str] = ()) -> Starlette:
    """The app serving `groups`, and `deferred` ones loaded by their first request (http/deferred.py), with what
    their requests need built now; the collector on again, frozen."""
    try:
        app = create_app(groups, deferred=deferred)
        prepare(frozenset(groups) | frozenset(deferred))
        return app
    finally:
        gc.freeze()
        gc.enable()


def prepare(groups: frozenset[str]) -> None:
    """Build, without any network call, what every request of these groups needs; never raises."""
    try:
        if groups & INFERENCE_GROUPS:
            _prepare_inference()
        if groups & STORE_GROUPS:
            _prepare_store()
        _prepare_secrets(groups)
    except Exception:
        logger.warning("the init could not build everything: the first request builds the rest", exc_info=True)


def _prepare_inference() -> None:
    from lambdarouter.http.context import default_gateway
    from lambdarouter.providers.transport.httpx_backend import tls_context

    default_gateway()
    tls_context()


def _prepare_store() -> None:
    from lambdarouter.store import shared_store

    store = shared_store()
    client = getattr(store, "client", None)  # DynamoDB: the property builds the process's client once
    if client is not None:
        client.json_client.pool.prepare()  # its TLS context (the CA store), not a connection


def _prepare_secrets(groups: frozenset[str]) -> None:
    from lambdarouter.core.config import current

    settings = current()
    reads_secret = (groups & INFERENCE_GROUPS and settings.secret_id) or (
        groups & ADMIN_GROUPS and (settings.admin_secret_id or settings.secret_id))
    if reads_secret:
        from lambdarouter.core.credentials import secrets_client

        secrets_client()
