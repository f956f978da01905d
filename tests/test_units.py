"""Pure pieces: SSE decoding, tool-call indices, OpenAI translation, pricing, catalog files, the key store."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import Finish, TextDelta, TokenUsage, ToolCallDelta, UsageReport
from lambdarouter.core.hosts import BUILTIN_HOSTS, resolve_host
from lambdarouter.core.pricing import generation_cost
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.providers.base import UpstreamCall
from lambdarouter.providers.openai.chat import OpenAIAdapter
from lambdarouter.providers.openai.request import build_body
from lambdarouter.providers.sse import SSEDecoder
from lambdarouter.providers.toolcalls import ToolCallIndexer
from lambdarouter.store import KEY_PREFIX, hash_key
from lambdarouter.store.sqlite import SQLiteStore
from tests.stores import wait

HOSTS = {h.name: h for h in BUILTIN_HOSTS}


class Env:
    def __init__(self, **values: str) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def call_for(body: dict[str, object], host: str = "openai", stream: bool = False,
             params: frozenset[str] | None = None) -> UpstreamCall:
    request = to_canonical(ChatCompletionRequest.model_validate(body))
    endpoint = EndpointSpec(host=host, upstream_id="up-1", context_length=1000, prompt=Decimal(1),
                            completion=Decimal(1))
    resolved = resolve_host(HOSTS[host], Env(OPENAI_API_KEY="k", GROQ_API_KEY="k"))
    supported = params if params is not None else frozenset({"max_tokens", "temperature", "tools", "reasoning"})
    return UpstreamCall(request, endpoint, resolved, supported, stream)


def test_sse_decoder_handles_any_split_and_line_ending() -> None:
    wire = b"event: a\r\ndata: {\"x\":1}\r\n\r\n: comment\n\ndata: 1\ndata: 2\n\nretry: 5\ndata: last"
    for size in (1, 2, 3, 7, len(wire)):
        decoder = SSEDecoder()
        events = [e for i in range(0, len(wire), size) for e in decoder.feed(wire[i:i + size])]
        events += decoder.flush()
        assert [(e.event, e.data) for e in events] == [("a", '{"x":1}'), (None, "1\n2"), (None, "last")]


def test_tool_call_indexer_is_dense_in_first_seen_order() -> None:
    indexer = ToolCallIndexer()
    assert [indexer.start(5), indexer.start(9), indexer.lookup(5), indexer.lookup(None)] == [0, 1, 0, 1]
    assert indexer.lookup("unknown") == 2


def test_build_body_drops_gateway_fields_and_unsupported_parameters() -> None:
    body = build_body(call_for({
        "model": "openai/x", "messages": [{"role": "user", "content": "hi", "cache_control": {"type": "ephemeral"}}],
        "max_tokens": 9, "temperature": 0.2, "top_k": 3, "seed": 1, "models": ["a/b"],
        "provider": {"order": ["openai"]}, "reasoning": {"effort": "high"}, "usage": {"include": True},
    }))
    assert body == {
        "model": "up-1", "messages": [{"role": "user", "content": "hi", "cache_control": {"type": "ephemeral"}}],
        "max_completion_tokens": 9, "temperature": 0.2, "reasoning_effort": "high", "stream": False,
    }


def test_build_body_for_a_compatible_host_keeps_max_tokens_and_asks_for_stream_usage() -> None:
    body = build_body(call_for({"model": "x/y", "messages": [{"role": "user", "content": "hi"}],
                                "max_completion_tokens": 7}, host="groq", stream=True))
    assert body["max_tokens"] == 7
    assert "max_completion_tokens" not in body
    assert body["stream_options"] == {"include_usage": True}


def test_request_headers_carry_the_key_but_repr_does_not() -> None:
    request = OpenAIAdapter().build_request(call_for({"model": "x/y", "messages": [{"role": "user", "content": "h"}]}))
    assert request.headers["authorization"] == "Bearer k"
    assert "Bearer" not in repr(request)
    assert request.url == "https://api.openai.com/v1/chat/completions"


def stream_events(*chunks: dict[str, object], done: bool = True) -> list[object]:
    decoder = OpenAIAdapter().stream_decoder()
    events: list[object] = []
    for chunk in chunks:
        events += decoder.feed(f"data: {json.dumps(chunk)}\n\n".encode())
    if done:
        events += decoder.feed(b"data: [DONE]\n\n")
    return [*events, *decoder.close()]


def test_stream_tool_calls_with_missing_or_negative_index_get_dense_indices() -> None:
    events = stream_events(
        {"choices": [{"delta": {"tool_calls": [
            {"index": -1, "id": "a", "function": {"name": "f", "arguments": ""}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "[]"}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
    )
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.index, c.id, c.arguments) for c in calls] == [(0, "a", ""), (0, None, "{}"), (1, "b", "[]")]
    assert Finish("tool_calls", "tool_calls") in events


def test_stream_that_ends_without_finish_or_done_is_an_error() -> None:
    with pytest.raises(GatewayError) as raised:
        stream_events({"choices": [{"delta": {"content": "par"}}]}, done=False)
    assert raised.value.status == 502
    events = stream_events({"choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}, done=False)
    assert TextDelta("ok") in events


def test_stream_usage_and_reasoning_content() -> None:
    events = stream_events(
        {"choices": [{"delta": {"reasoning_content": "think"}}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4,
                                  "completion_tokens_details": {"reasoning_tokens": 2}}},
    )
    assert UsageReport(TokenUsage(prompt_tokens=3, completion_tokens=4, reasoning_tokens=2)) in events


def test_cost_prices_cache_reads_writes_and_reasoning() -> None:
    endpoint = EndpointSpec(host="anthropic", upstream_id="m", context_length=10, prompt=Decimal("0.000003"),
                            completion=Decimal("0.000015"), cache_read=Decimal("0.0000003"),
                            cache_write=Decimal("0.00000375"))
    usage = TokenUsage(prompt_tokens=1000, completion_tokens=100, cached_tokens=600, cache_write_tokens=300)
    expected = (100 * Decimal("0.000003") + 600 * Decimal("0.0000003") + 300 * Decimal("0.00000375")
                + 100 * Decimal("0.000015"))
    assert generation_cost(usage, endpoint) == expected
    priced_reasoning = endpoint.model_copy(update={"reasoning": Decimal("0.00002")})
    with_reasoning = TokenUsage(prompt_tokens=10, completion_tokens=100, reasoning_tokens=40)
    assert generation_cost(with_reasoning, priced_reasoning) == (
        10 * Decimal("0.000003") + 60 * Decimal("0.000015") + 40 * Decimal("0.00002"))


def test_missing_credentials_name_the_variable() -> None:
    with pytest.raises(GatewayError) as raised:
        resolve_host(HOSTS["anthropic"], Env())
    assert raised.value.status == 503
    assert "ANTHROPIC_API_KEY" in raised.value.message
    assert resolve_host(HOSTS["azure"], Env(AZURE_OPENAI_API_KEY="k", AZURE_OPENAI_ENDPOINT="https://r.example/")
                        ).base_url == "https://r.example/openai/v1"


def test_user_catalog_file_errors_are_clear(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[[models]]\nid = "a/b"\nname = "x"\ncreated = 1\n[[models.endpoints]]\nhost = "nowhere"\n'
                      'upstream_id = "m"\ncontext_length = 1\nprompt = "0"\ncompletion = "0"\n')
    with pytest.raises(ValueError, match="unknown host 'nowhere'"):
        load_catalog(broken)
    broken.write_text("[[models]]\nid = 3\n")
    with pytest.raises(ValueError, match=str(broken)):
        load_catalog(broken)


def test_variants_and_aliases_resolve() -> None:
    catalog = load_catalog()
    assert catalog.resolve("openai/gpt-4o:floor").variant == "floor"
    assert catalog.resolve("google/gemini-pro").model.id == catalog.aliases["google/gemini-pro"]
    with pytest.raises(GatewayError):
        catalog.resolve("openai/gpt-4o:bogus")


def test_store_keeps_only_the_hash(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    plaintext, record = wait(store.create_key("team-a"))
    assert plaintext.startswith(KEY_PREFIX)
    assert wait(store.find_key(hash_key(plaintext))) == record
    assert wait(store.find_key(hash_key(plaintext + "x"))) is None
    assert plaintext not in (tmp_path / "db.sqlite3").read_bytes().decode("latin-1")
    dump = "\n".join(sqlite3.connect(tmp_path / "db.sqlite3").iterdump())
    assert plaintext not in dump
    assert record.label.endswith(plaintext[-3:])
    assert wait(store.has_keys())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(['data: {"x": "é"}', "data: 2", "data:3", "event: e", ": c", "", "retry: 1", "data:"]),
                max_size=12),
       st.sampled_from(["\n", "\r\n", "\r"]), st.lists(st.integers(1, 9), min_size=1, max_size=5))
def test_sse_decoder_splits_the_same_whatever_the_reads(lines: list[str], end: str, sizes: list[int]) -> None:
    """The decoder's LF-only fast path and its line-by-line path (any CR) give the same events for any cut."""
    wire = (end.join(lines) + end).encode()
    crlf = SSEDecoder()  # the line-by-line path, read whole
    expected = [*crlf.feed(("\r\n".join(lines) + "\r\n").encode()), *crlf.flush()]
    decoder, events, at = SSEDecoder(), [], 0
    for index in range(len(wire)):  # bounded: every turn takes at least one byte
        if at >= len(wire):
            break
        size = sizes[index % len(sizes)]
        events += decoder.feed(wire[at:at + size])
        at += size
    assert [*events, *decoder.flush()] == expected
