"""Helpers for the Messages front-door tests (/messages): the Anthropic SDK pointed at the gateway, Bedrock's
InvokeModel stream frames, and reading what the gateway told the client it charged.

The Messages shapes used here are Anthropic's documented ones (https://platform.claude.com/docs/en/api/messages,
https://platform.claude.com/docs/en/build-with-claude/streaming) and the recordings under tests/recordings/.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import anthropic

from tests.bedrock_cases import frame
from tests.gateway import RunningGateway

# Catalog models by the way they are served (bundled catalog + tests/data/extra-models.toml).
ANTHROPIC_HOSTED = "claude-opus-5-5"  # anthropic/claude-opus-5.5: Anthropic's API only (Claude Code's default)
BEDROCK_HOSTED = "anthropic/claude-sonnet-4"  # Bedrock only (the SDK warns about its Anthropic name's retirement)
BEDROCK_PROFILE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
BEDROCK_INVOKE = f"/model/{BEDROCK_PROFILE}/invoke"
BEDROCK_STREAM = f"/model/{BEDROCK_PROFILE}/invoke-with-response-stream"
MESSAGES_PATH = "/v1/messages"
# Catalog prices (USD per token): input, output, cache write, cache read.
Prices = tuple[Decimal, Decimal, Decimal, Decimal]
OPUS_5_5: Prices = (Decimal("0.000004"), Decimal("0.00002"), Decimal("0.000005"), Decimal("0.0000002"))
SONNET_4: Prices = (Decimal("0.000003"), Decimal("0.000015"), Decimal("0.00000375"), Decimal("0.0000003"))


def anthropic_base(gateway: RunningGateway) -> str:
    """`ANTHROPIC_BASE_URL` for the gateway: its `/api` prefix (the SDK appends `/v1/messages`)."""
    return gateway.url.removesuffix("/v1")


def sdk(gateway: RunningGateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=anthropic_base(gateway), api_key=key or gateway.key, max_retries=0,
                               timeout=20)


def chunk_frame(event: dict[str, Any]) -> bytes:
    """One InvokeModelWithResponseStream `chunk` frame: a Messages stream event as base64 JSON under `bytes`."""
    payload = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()}).encode()
    return frame({":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}, payload)


def invoke_stream(events: list[str]) -> list[bytes]:
    """The frames Bedrock sends for the same events Anthropic's API streams as SSE (`anthropic_cases.sse`)."""
    return [chunk_frame(json.loads(event.split("data: ", 1)[1])) for event in events]


def cost_of(input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0,
            prices: Prices = OPUS_5_5) -> Decimal:
    prompt, completion, write, read = prices
    return input_tokens * prompt + output_tokens * completion + cache_write * write + cache_read * read


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, payload) of each event of an Anthropic SSE body, in order."""
    out: list[tuple[str, dict[str, Any]]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), "")
        data = "\n".join(line[5:].lstrip() for line in lines if line.startswith("data:"))
        if data:
            out.append((name, json.loads(data, parse_float=Decimal)))
    return out
