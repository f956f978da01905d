"""Worst-case cost before a call, and token estimates where a provider never reported usage.

Reservation estimate (over-estimating is safe: the hold is settled to the real cost after the call). It is an
upper bound of what an honest provider can report, because it is also the most a generation may be charged
(`pricing.bounded`): a report above it is an anomaly, booked at the reservation.

- prompt tokens: one per UTF-8 byte of every message's text parts, tool definitions and response schema (the
  byte-level BPE and SentencePiece-with-byte-fallback tokenizers of every catalog model never make more tokens
  than bytes; English averages 3.5-4.5 bytes per token, so this holds about four times what is usual), plus 4
  per message for role framing, plus 1,600 per image (the most any provider documents for one image:
  Anthropic's 1.15 MP images; OpenAI high detail and Gemini are below), plus TOKENS_FOR_TOOLS when the request
  has tools.
- output tokens: the request's `max_completion_tokens` / `max_tokens`, else the endpoint's maximum output,
  else its context length; times `n`, the choices asked for.
- prices: the highest of the prompt and cache-write prices (five-minute and one-hour) for the prompt, of
  completion, reasoning and image-output price for the output (a model that can draw may spend every output
  token on images), plus the per-request and per-image prices; over every candidate endpoint, the dearest one.
- server tools (Anthropic's web search and web fetch, which a Messages request may enable): each use the request
  allows (its `max_uses`, else UNCAPPED_SERVER_TOOL_USES) at its fee, plus what it brings back, which the
  provider bills as input tokens (`server_tools_cost`).

For a stream cut short before the provider's usage report, what was produced is charged from an estimate
(`fill_usage`): 4 characters per token of the text received, at least one token per piece received;
the prompt from the same characters-per-token rule. Generated images whose tokens the provider did not
count apart are charged as TOKENS_PER_OUTPUT_IMAGE image tokens each (`fill_image_tokens`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal

from msgspec import Struct
from msgspec.structs import replace

from lambdarouter.core import conversation as canonical
from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.conversation import ChatRequest
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import TokenUsage

BYTES_PER_TOKEN_RESERVED = 1
TOKENS_PER_IMAGE = 1600
# The system prompt a provider adds when a request has tools: at most 530 tokens on Anthropic's list
# (https://docs.anthropic.com/en/docs/tool-use-pricing-and-tokens, Claude 3 Opus with tool_choice auto).
TOKENS_FOR_TOOLS = 600
# Tokens a tokenizer may add around one text input (beginning and end of sequence).
TOKENS_PER_INPUT = 2
TOKENS_PER_MESSAGE = 4
CHARS_PER_TOKEN_CHARGED = 4
# One generated image, when the provider did not say: Gemini 2.5 Flash Image's documented 1290 tokens per
# image up to 1024x1024 (https://ai.google.dev/gemini-api/docs/pricing); Gemini 3.1 Flash Image documents
# 1120 for a 1K image, so this does not undercharge a 1K image on either.
TOKENS_PER_OUTPUT_IMAGE = 1290
# Anthropic's server tools, which a Messages request enables in `tools` (`web_search_…`, `web_fetch_…` types): a
# web search costs its fee, $10 per 1,000 (the endpoint's `web_search` price), and its results are billed as input
# tokens (https://platform.claude.com/docs/en/agents-and-tools/tool-use/web-search-tool, "Usage and pricing"); a
# web fetch has no fee but what it fetched is input tokens, up to the tool's `max_content_tokens`
# (https://platform.claude.com/docs/en/agents-and-tools/tool-use/web-fetch-tool). Neither documents a bound on
# what one use brings back, nor a default `max_uses`: these are the gateway's allowances.
UNCAPPED_SERVER_TOOL_USES = 10  # uses reserved for a server tool the request gives no `max_uses`
TOKENS_PER_WEB_SEARCH = 10_000  # one search's results (about ten pages' titles, URLs and encrypted content)
TOKENS_PER_WEB_FETCH = 25_000  # one fetched page, when the tool sets no `max_content_tokens`


class ServerTools(Struct, frozen=True):
    """The most the server tools a request enables may do: web searches (each billed its fee), and the input
    tokens every use's results may add."""

    web_searches: int = 0
    result_tokens: int = 0

    def cost(self, endpoint: EndpointSpec) -> Decimal:
        return self.web_searches * endpoint.web_search + self.result_tokens * prompt_price(endpoint)


class PromptSize(Struct, frozen=True):
    """What the reservation is priced from, measured once per request."""

    text_bytes: int
    text_chars: int
    messages: int  # messages, or inputs: each one framed by a few tokens of its own
    images: int
    framing: int = 0  # tokens the provider adds on its own (TOKENS_FOR_TOOLS)

    @property
    def reserved_tokens(self) -> int:
        return (math.ceil(self.text_bytes / BYTES_PER_TOKEN_RESERVED) + TOKENS_PER_MESSAGE * self.messages
                + TOKENS_PER_IMAGE * self.images + self.framing)

    @property
    def charged_tokens(self) -> int:
        """The estimate billed when the provider never said (cut-short streams)."""
        return math.ceil(self.text_chars / CHARS_PER_TOKEN_CHARGED) + TOKENS_PER_MESSAGE * self.messages


def measure(request: ChatRequest) -> PromptSize:
    """What the reservation is priced from: every text the conversation sends (what the provider tokenizes,
    tool calls, results and reasoning sent back included), its images, its tools and output schema."""
    text: list[str] = []
    images = 0
    for message in request.messages:
        images += _texts(message.parts, text)
        if message.name:
            text.append(message.name)
        if message.extensions:  # what a same-dialect host also receives (e.g. OpenRouter's `reasoning` text)
            text.append(json.dumps(message.extensions, default=str))
    for tool in request.tools:
        text.append(json.dumps([tool.name, tool.description, tool.parameters], default=str))
    if request.output is not None:
        text.append(json.dumps(getattr(request.output, "schema", None), default=str))
    joined = "".join(text)
    return PromptSize(len(joined.encode()), len(joined), len(request.messages), images,
                      TOKENS_FOR_TOOLS if request.tools else 0)


def _texts(parts: Sequence[canonical.Part], into: list[str]) -> int:
    """The texts of `parts` (appended to `into`) and their number of images."""
    images = 0
    for part in parts:
        if isinstance(part, canonical.ImagePart):
            images += 1
        elif isinstance(part, canonical.TextPart | canonical.RefusalPart):
            into.append(part.text)
        elif isinstance(part, canonical.ToolCallPart):
            into.extend((part.id, part.name, part.arguments))
        elif isinstance(part, canonical.ToolResultPart):
            into.append(part.call_id)
            images += _texts(part.content, into)
        elif isinstance(part, canonical.ReasoningPart):
            into.extend(t for t in (part.text, part.signature, part.encrypted, part.summary) if t)
        elif isinstance(part, canonical.AudioPart):  # base64 bounds their tokens from above
            into.append(part.data)
        elif isinstance(part, canonical.FilePart):
            into.extend(t for t in (part.url, part.file_id, part.filename) if t)
    return images


def output_limit(request: ChatRequest, endpoint: EndpointSpec) -> int:
    return request.max_output_tokens or endpoint.max_output_tokens or endpoint.context_length


class Quote(Struct, frozen=True):
    """The worst case of a request on one endpoint (or over every candidate, the dearest), and what it is
    made of: what is reserved before the call, the most the call may be charged after it, and the 402."""

    amount: Decimal
    prompt_cost: Decimal
    output_tokens: int = 0
    output_price: Decimal = Decimal(0)


def prompt_price(endpoint: EndpointSpec) -> Decimal:
    """The dearest price a prompt token may have on this endpoint: uncached, or written to the cache for five
    minutes or for an hour, whichever costs most."""
    return max(endpoint.prompt, endpoint.cache_write or Decimal(0), endpoint.cache_write_1h or Decimal(0))


def output_price(endpoint: EndpointSpec) -> Decimal:
    """The dearest price an output token may have on this endpoint (text, reasoning or image output)."""
    return max(endpoint.completion, endpoint.reasoning or Decimal(0), endpoint.image_output or Decimal(0))


def quote(request: ChatRequest, size: PromptSize, endpoints: Sequence[EndpointSpec]) -> Quote:
    worst: Quote | None = None
    for endpoint in endpoints:
        price = output_price(endpoint)
        prompt_cost = size.reserved_tokens * prompt_price(endpoint) + endpoint.request + size.images * endpoint.image
        tokens = output_limit(request, endpoint) * (request.choices or 1)
        candidate = Quote(prompt_cost + tokens * price, prompt_cost, tokens, price)
        if worst is None or candidate.amount > worst.amount:
            worst = candidate
    assert worst is not None, "quote() needs at least one endpoint"
    return worst


def insufficient_credits(worst: Quote, available: Decimal) -> GatewayError:
    """402, in OpenRouter's words where the request buys output tokens."""
    left = max(available, Decimal(0))
    metadata = {"limit_remaining": float(left)}
    if not (worst.output_tokens and worst.output_price > 0):
        return GatewayError(402, f"This request requires more credits: it may cost up to ${worst.amount:f}, and "
                                 f"the key has ${left:f} left.", metadata=metadata)
    spare = available - worst.prompt_cost
    affordable = max(int(spare / worst.output_price), 0)
    return GatewayError(402, "This request requires more credits, or fewer max_tokens. You requested up to "
                             f"{worst.output_tokens} tokens, but can only afford {affordable}.", metadata=metadata)


def fill_usage(usage: TokenUsage, size: PromptSize, output_chars: int, output_pieces: int) -> TokenUsage | None:
    """The usage to charge when the provider reported none (or only part): None when nothing is missing."""
    prompt = usage.prompt_tokens or size.charged_tokens
    completion = usage.completion_tokens
    if not completion and output_pieces:
        completion = max(math.ceil(output_chars / CHARS_PER_TOKEN_CHARGED), output_pieces)
    if (prompt, completion) == (usage.prompt_tokens, usage.completion_tokens):
        return None
    return replace(usage, prompt_tokens=prompt, completion_tokens=completion)


def fill_image_tokens(usage: TokenUsage, reported: TokenUsage, images: int) -> TokenUsage | None:
    """The usage to charge for `images` generated images whose tokens the provider did not count apart:
    None when it did (or there are none). When the provider reported output tokens, the images are among
    them; when it reported none (a stream cut short), they are added to the estimate."""
    if not images or usage.image_tokens:
        return None
    estimate = images * TOKENS_PER_OUTPUT_IMAGE
    if reported.completion_tokens:
        return replace(usage, image_tokens=min(estimate, usage.completion_tokens))
    return replace(usage, completion_tokens=usage.completion_tokens + estimate, image_tokens=estimate)
