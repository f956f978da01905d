"""The process-wide `Gateway`, built on first use and reused by warm invocations."""

from __future__ import annotations

from functools import cache

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.config import current
from lambdarouter.core.credentials import credentials_from_env
from lambdarouter.gateway.fallback import RetryPolicy
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.observability import emit_generation_metrics
from lambdarouter.store import shared_store


@cache
def default_gateway() -> Gateway:
    settings = current()
    gateway = Gateway(load_catalog(settings.config_path), shared_store(), credentials_from_env(),
                      retry_policy=RetryPolicy(settings.request_deadline, settings.retry_rounds),
                      stream_limit=settings.stream_limit, read_timeout=settings.read_timeout)
    if settings.on_lambda:
        gateway.observers.append(emit_generation_metrics)  # EMF metrics, on AWS only
    return gateway
