"""The chunk writer (dialects/openrouter/chunks.py) writes, byte for byte, what the documented chunk model
(`ChatCompletionChunk`, served in /openapi.json) serializes to without its null fields, for every kind of event
and any text; and every chunk it writes is one OpenRouter's document accepts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    ImageDelta,
    LogprobsDelta,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UpstreamInfo,
    UsageReport,
)
from lambdarouter.dialects.openrouter.answer import usage_body
from lambdarouter.dialects.openrouter.answer_schema import (
    ChatCompletionChunk,
    ChunkChoice,
    ChunkError,
    Delta,
    GeneratedImage,
    ImageURL,
    ToolCallFunctionDelta,
    Usage,
)
from lambdarouter.dialects.openrouter.answer_schema import (
    ToolCallDelta as ModelToolCall,
)
from lambdarouter.dialects.openrouter.assemble import Identity, error_type
from lambdarouter.dialects.openrouter.chunks import ChunkWriter
from tests.openrouter_contract import validate_chunk

IDENTITY = Identity("gen-1700000000-abc", 1_700_000_000, "openai/gpt-4o", "OpenAI")
texts = st.text(max_size=40)  # any code point but lone surrogates: quotes, backslashes, controls, emoji
details = st.fixed_dictionaries({"type": st.just("reasoning.text"), "text": texts})
events = st.one_of(
    st.builds(TextDelta, texts),
    st.builds(RefusalDelta, texts),
    st.builds(ReasoningDelta, st.none() | texts, st.none() | details),
    st.builds(ImageDelta, texts.map(lambda t: "data:image/png;base64," + t)),
    st.builds(LogprobsDelta, st.lists(st.fixed_dictionaries({
        "token": texts, "logprob": st.floats(-50, 0), "bytes": st.lists(st.integers(0, 255), max_size=4),
        "top_logprobs": st.just([])}), max_size=3).map(tuple)),
    st.builds(ToolCallDelta, st.integers(0, 5), st.none() | texts, st.none() | texts, texts),
    st.builds(Finish, st.sampled_from(["stop", "length", "tool_calls", "content_filter", "error"]), st.none() | texts),
    st.builds(UpstreamInfo, st.none() | texts, st.none() | texts, st.none() | texts),
    st.builds(UsageReport, st.builds(TokenUsage, st.integers(0, 99), st.integers(0, 99))),
)


def documented(event: StreamEvent, first: bool) -> bytes | None:
    """The chunk as the pydantic models write it (how the gateway wrote every chunk before the writer)."""
    role: Any = "assistant" if first else None
    choice: ChunkChoice
    match event:
        case TextDelta(text):
            choice = ChunkChoice(delta=Delta(role=role, content=text))
        case RefusalDelta(text):
            choice = ChunkChoice(delta=Delta(role=role, refusal=text))
        case ReasoningDelta(text, detail):
            choice = ChunkChoice(delta=Delta(role=role, reasoning=text, reasoning_details=[detail] if detail else None))
        case ImageDelta(url):
            choice = ChunkChoice(delta=Delta(role=role, images=[GeneratedImage(image_url=ImageURL(url=url))]))
        case ToolCallDelta(index, call_id, name, arguments):
            call = ModelToolCall(index=index, id=call_id, type="function" if call_id else None,
                                 function=ToolCallFunctionDelta(name=name, arguments=arguments))
            choice = ChunkChoice(delta=Delta(role=role, tool_calls=[call]))
        case Finish(reason, native):
            choice = ChunkChoice(delta=Delta(role=role), finish_reason=reason, native_finish_reason=native)
        case LogprobsDelta(content):
            choice = ChunkChoice(delta=Delta(role=role), logprobs={"content": list(content)})
        case _:
            return None
    return _data(_model([choice]))


def _model(choices: list[ChunkChoice]) -> ChatCompletionChunk:
    return ChatCompletionChunk(id=IDENTITY.id, created=IDENTITY.created, model=IDENTITY.model,
                               provider=IDENTITY.provider, choices=choices)


def _data(chunk: ChatCompletionChunk) -> bytes:
    return b"data: " + chunk.model_dump_json(exclude_none=True).encode() + b"\n\n"


def lines(written: bytes) -> list[bytes]:
    return [line + b"\n\n" for line in written.split(b"\n\n") if line]


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=6), st.booleans())
def test_the_writer_writes_what_the_model_serializes_to(batch: list[StreamEvent], first: bool) -> None:
    expected: list[bytes] = []
    role_due = first  # `role` goes on the first chunk the client sees
    for event in batch:
        out = documented(event, role_due)
        if out is not None:
            expected.append(out)
            role_due = False
    written = lines(ChunkWriter(IDENTITY).events(batch, first))
    # Byte for byte, but for a log probability's float: the writer's `json` says -1e-05 where pydantic says
    # -0.00001 (the same number); those chunks are compared as JSON, in order.
    assert [w if b'"logprobs"' not in w else json.loads(w[6:]) for w in written] == [
        e if b'"logprobs"' not in e else json.loads(e[6:]) for e in expected]
    assert [list(json.loads(w[6:])["choices"][0]) for w in written] == [
        list(json.loads(e[6:])["choices"][0]) for e in expected]  # keys in the documented order


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=6), st.booleans())
def test_every_written_chunk_is_one_openrouter_accepts(batch: list[StreamEvent], first: bool) -> None:
    for line in lines(ChunkWriter(IDENTITY).events(batch, first)):
        chunk = json.loads(line.removeprefix(b"data: "))
        validate_chunk("/chat/completions", chunk)
        assert all("finish_reason" in choice for choice in chunk["choices"])


def test_the_usage_and_error_chunks() -> None:
    writer = ChunkWriter(IDENTITY)
    usage, cost = TokenUsage(12, 5, cached_tokens=3), Decimal("0.000123")
    assert writer.usage(usage, cost) == _data(ChatCompletionChunk(
        id=IDENTITY.id, created=IDENTITY.created, model=IDENTITY.model, provider=IDENTITY.provider, choices=[],
        usage=Usage.model_validate(usage_body(usage, cost))))
    error = GatewayError(502, "OpenAI: overloaded", metadata={"provider_name": "OpenAI", "error_type": "Throttling"})
    failed = _model([ChunkChoice(delta=Delta(content=""), finish_reason="error")])
    failed.error = ChunkError(code=502, message="OpenAI: overloaded", metadata={
        "provider_name": "OpenAI", "provider_code": "Throttling", "error_type": error_type(502)})
    assert writer.error(error) == _data(failed)
    for line in (writer.usage(usage, cost), writer.error(error)):
        validate_chunk("/chat/completions", json.loads(line.removeprefix(b"data: ")))


def test_a_lone_surrogate_from_a_provider_is_escaped_not_fatal() -> None:
    text = json.loads('"a\\ud83d b"')  # legal JSON a provider may send; not encodable as UTF-8
    for first in (False, True):
        [line] = lines(ChunkWriter(IDENTITY).events([TextDelta(text)], first))
        assert json.loads(line.removeprefix(b"data: "))["choices"][0]["delta"]["content"] == text
