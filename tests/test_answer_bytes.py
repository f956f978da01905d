"""The non-streamed chat answer's writer (dialects/openrouter/answer.py) writes, byte for byte, what the documented
answer model (`ChatCompletion`, served in /openapi.json) serialized to when the gateway built the answer as pydantic
models: for every recorded provider answer (tests/recordings, through its adapter) and for any fold of events, with
any text, any usage and any cost; and every answer it writes is one OpenRouter's document accepts."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdarouter.core.events import Finish, StreamEvent, TextDelta, TokenUsage
from lambdarouter.dialects.openrouter.answer import completion_bytes
from lambdarouter.dialects.openrouter.answer_schema import (
    ChatCompletion,
    Choice,
    CompletionTokensDetails,
    GeneratedImage,
    ImageURL,
    PromptTokensDetails,
    ResponseMessage,
    Usage,
)
from lambdarouter.dialects.openrouter.assemble import Accumulator
from lambdarouter.dialects.openrouter.messages import FunctionCall, ToolCall
from lambdarouter.providers import adapter_for
from tests.fakes.recordings import all_recordings, load_recording
from tests.openrouter_contract import validate_answer
from tests.test_stream_chunks import IDENTITY, events

# The recorded non-streamed answers of every provider family (a 200 with a JSON body; Gemini's array stream aside).
ANSWERS = [name for name in all_recordings()
           if (rec := load_recording(name)).status == 200 and not (rec.is_sse or rec.is_eventstream)
           and not rec.endpoint.endswith(":streamGenerateContent")]
# Answers the gateway writes off OpenRouter's schema, whichever writer: the Bedrock adapter labels Claude's reasoning
# details `"format": "amazon-bedrock"`, not one of the document's `ReasoningDetail` formats (a finding of its own).
OFF_SCHEMA = {"bedrock/thinking"}
# Costs as the books quote them: from nothing to dollars, with the small magnitudes whose JSON spelling differs
# between writers (pydantic-core writes 0.00001 and 1.5e-7, Python's json 1e-05 and 1.5e-07).
costs = st.decimals(min_value=0, max_value=1000, places=12, allow_nan=False) | st.sampled_from(
    [Decimal("0.00001"), Decimal("0.000015"), Decimal("1.5E-7"), Decimal("2.5E-10"), Decimal(0)])
usages = st.builds(TokenUsage, *(st.integers(0, 2**31),) * 6)


def documented(acc: Accumulator, usage: TokenUsage, cost: Decimal) -> bytes:
    """The answer as the pydantic models wrote it (how the gateway answered before the writer)."""
    calls = [ToolCall(id=parts.id, function=FunctionCall(name=parts.name, arguments="".join(parts.arguments)))
             for _, parts in sorted(acc.tool_calls.items())]
    message = ResponseMessage(
        content="".join(acc.text) if acc.text or not calls else None, refusal="".join(acc.refusal) or None,
        tool_calls=calls or None, reasoning="".join(acc.reasoning) or None,
        reasoning_details=acc.reasoning_details or None,
        images=[GeneratedImage(image_url=ImageURL(url=url)) for url in acc.images] or None)
    finish = acc.finish or Finish("stop")
    usage_model = Usage(
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached_tokens,
                                                  cache_write_tokens=usage.cache_write_tokens),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=usage.reasoning_tokens,
                                                          image_tokens=usage.image_tokens),
        cost=float(cost))
    return ChatCompletion(
        id=IDENTITY.id, created=IDENTITY.created, model=IDENTITY.model, provider=IDENTITY.provider,
        choices=[Choice(message=message, finish_reason=finish.reason, native_finish_reason=finish.native,
                        logprobs={"content": acc.logprobs, "refusal": None} if acc.logprobs else None)],
        usage=usage_model, system_fingerprint=acc.system_fingerprint).model_dump_json().encode()


def folded(batch: list[StreamEvent]) -> Accumulator:
    acc = Accumulator()
    for event in batch:
        acc.add(event)
    return acc


@pytest.mark.parametrize("name", ANSWERS)
def test_a_recorded_answer_is_written_as_the_model_wrote_it(name: str) -> None:
    rec = load_recording(name)
    acc = folded(adapter_for(rec.provider).parse_response(rec.body_bytes()))
    cost = Decimal("0.0000123")
    written = completion_bytes(IDENTITY, acc, acc.usage, cost)
    assert written == documented(acc, acc.usage, cost)
    if name not in OFF_SCHEMA:
        validate_answer("/chat/completions", "post", json.loads(written))


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=8), usages, costs)
def test_any_answer_is_written_as_the_model_wrote_it(batch: list[StreamEvent], usage: TokenUsage,
                                                       cost: Decimal) -> None:
    acc = folded(batch)
    written = completion_bytes(IDENTITY, acc, usage, cost)
    assert written == documented(acc, usage, cost)
    validate_answer("/chat/completions", "post", json.loads(written))


def test_a_lone_surrogate_is_escaped_not_an_error() -> None:
    """A provider may send `"\\ud83d"` alone (legal JSON, not UTF-8): the model's writer raised on it; the answer
    carries it as its JSON escape, so the client reads back what the provider sent."""
    acc = folded([TextDelta("a \ud83d é")])
    written = completion_bytes(IDENTITY, acc, TokenUsage(1, 1), Decimal("0.00001"))
    assert b"a \\ud83d \xc3\xa9" in written  # the surrogate escaped, the rest raw UTF-8
    body = json.loads(written)
    assert body["choices"][0]["message"]["content"] == "a \ud83d é" and body["usage"]["cost"] == 0.00001
