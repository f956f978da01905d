"""The process-wide `Gateway`, built on first use and reused by warm invocations."""

from __future__ import annotations

from functools import cache

from lambdarouter.catalog import load_catalog
from lambdarouter.config import Settings
from lambdarouter.credentials import credentials_from_env
from lambdarouter.fallback import RetryPolicy
from lambdarouter.observability import emit_generation_metrics
from lambdarouter.providers import transport
from lambdarouter.service import Gateway
from lambdarouter.store import shared_store


@cache
def default_gateway() -> Gateway:
    settings = Settings.from_env()
    transport.configure_timeouts(settings.connect_timeout, settings.read_timeout)
    gateway = Gateway(load_catalog(settings.config_path), shared_store(), credentials_from_env(),
                      retry_policy=RetryPolicy(settings.request_deadline, settings.retry_rounds),
                      stream_limit=settings.stream_limit)
    gateway.observers.append(emit_generation_metrics)  # EMF metrics on AWS; a no-op elsewhere
    return gateway
