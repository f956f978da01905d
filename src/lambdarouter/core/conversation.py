"""The canonical conversation: what every inbound dialect translates into and every provider adapter out of.

A request is messages of typed parts (text, image, audio, file, refusal, tool call, tool result, reasoning),
tools and tool choice, an output format, sampling and reasoning options, stop sequences, user and metadata.
The answer is the event union of `core.events`, streamed or not. Frozen `msgspec.Struct`s: built once per request
on the hot path, never validated twice (the dialect's schema validated the wire request); a Struct class costs ~0.03 ms
to create where a frozen slotted dataclass costs ~1.2 ms (generated, exec()'d methods), which a cold start pays per
class (docs/deployment.md, "Cold start").

What a dialect can say that this model does not carry travels as an extension tagged with the dialect that
said it (`Extensions`: dialect → fields). An adapter that speaks the same wire format merges those fields
verbatim into the object it renders (`extension`); every other adapter ignores them. With the inbound
`Origin` (dialect and raw body) that makes lossless passthrough possible: an adapter of the client's own
dialect can forward the body as sent. Names here are stable (docs/architecture.md); additions are fine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, NoReturn

from msgspec import Struct, field
from msgspec.structs import replace

# Dialect → the fields it said that the model does not carry, to be forwarded verbatim by an adapter of
# the same dialect (its own layout: nested objects are nested mappings).
Extensions = Mapping[str, Mapping[str, Any]]


class _Empty(Mapping[str, Any]):
    """An immutable empty mapping that may be a Struct default (it is hashable, unlike `{}`)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> NoReturn:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


NO_EXTENSIONS: Extensions = _Empty()
_NO_FIELDS: Mapping[str, Any] = _Empty()

# Dialect tags: the wire formats requests arrive in, which outbound adapters may speak too.
OPENAI_CHAT = "openai-chat"  # OpenAI Chat Completions, OpenRouter's /chat/completions
ANTHROPIC_MESSAGES = "anthropic-messages"  # Anthropic Messages API
OPENAI_RESPONSES = "openai-responses"  # OpenAI Responses API

Role = Literal["system", "developer", "user", "assistant", "tool"]
# OpenRouter's effort levels (OpenAI's plus "xhigh" and "max"; "none": no reasoning, where a model can stop).
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
ToolMode = Literal["auto", "none", "required"]


def extension(extensions: Extensions, dialect: str) -> Mapping[str, Any]:
    """The fields `dialect` attached to an object (empty when it attached none)."""
    return extensions.get(dialect) or _NO_FIELDS


class CacheControl(Struct, frozen=True):
    """A cache breakpoint: the prompt up to and including what carries it may be cached (Anthropic's
    `cache_control`, which OpenRouter's prompt caching takes on parts; Bedrock's `cachePoint`)."""

    type: str = "ephemeral"
    ttl: str | None = None  # "5m" | "1h" where the provider takes one


class Marked(Struct, frozen=True, kw_only=True):
    """What every object of the conversation may carry, by keyword: a cache breakpoint after it, and the
    extensions of the dialect that said it."""

    cache: CacheControl | None = None
    extensions: Extensions = NO_EXTENSIONS


class TextPart(Marked, frozen=True):
    text: str


class ImagePart(Marked, frozen=True):
    url: str  # a data: URL (the bytes) or a URL: http(s), or a provider's own (gs://, s3://)
    detail: str | None = None  # OpenAI's "auto" | "low" | "high"


class AudioPart(Marked, frozen=True):
    data: str  # base64
    format: str  # "wav", "mp3", ...


class VideoPart(Marked, frozen=True):
    url: str  # a data: URL (the bytes) or an http(s) URL


class FilePart(Marked, frozen=True):
    """A document: its bytes as a data: URL or a URL, or an id in a provider's Files API."""

    url: str | None = None
    file_id: str | None = None
    filename: str | None = None


class RefusalPart(Marked, frozen=True):
    """An assistant's refusal, sent back in the history."""

    text: str


class ToolCallPart(Marked, frozen=True):
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


class ReasoningPart(Marked, frozen=True):
    """Reasoning the model did in an earlier turn, sent back so the provider can continue it.

    `signature` proves `text` unaltered (Claude's thinking); `encrypted` is reasoning only its provider can
    read (Anthropic's redacted thinking, a Gemini thought signature, OpenAI's encrypted content); `format`
    names who wrote it (OpenRouter's `reasoning_details` formats), so an adapter restores only its own;
    `id` ties it to what it belongs to (a Gemini signature to its tool call).
    """

    text: str | None = None
    signature: str | None = None
    encrypted: str | None = None
    summary: str | None = None
    format: str | None = None
    id: str | None = None


class ToolResultPart(Marked, frozen=True):
    call_id: str
    content: tuple[Part, ...]
    name: str | None = None  # the function's name, when the dialect says it (providers that pair by name)
    is_error: bool = False


Part = (TextPart | ImagePart | AudioPart | VideoPart | FilePart | RefusalPart | ToolCallPart | ReasoningPart
        | ToolResultPart)


class Message(Marked, frozen=True):
    """One turn. Tool results travel in `tool` messages; `cache` marks the end of the whole message."""

    role: Role
    parts: tuple[Part, ...]
    name: str | None = None


class Tool(Marked, frozen=True):
    """A function the model may call; `parameters` is its arguments' JSON Schema."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None


class NamedTool(Struct, frozen=True):
    """A tool choice that forces one function."""

    name: str


ToolChoice = ToolMode | NamedTool


class TextFormat(Struct, frozen=True):
    extensions: Extensions = NO_EXTENSIONS


class JsonObjectFormat(Struct, frozen=True):
    """Any JSON object (OpenAI's JSON mode)."""

    extensions: Extensions = NO_EXTENSIONS


class JsonSchemaFormat(Struct, frozen=True):
    name: str
    schema: Mapping[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None
    extensions: Extensions = NO_EXTENSIONS


class GrammarFormat(Struct, frozen=True):
    """Output constrained by a grammar (OpenRouter's `grammar`) or to Python code (`python`: no grammar)."""

    kind: Literal["grammar", "python"]
    grammar: str | None = None
    extensions: Extensions = NO_EXTENSIONS


OutputFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat | GrammarFormat


class Sampling(Struct, frozen=True):
    """Sampling options; None: the provider's default. Ranges are the inbound dialect's, validated there."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    min_p: float | None = None
    seed: int | None = None


class Reasoning(Struct, frozen=True):
    """The client asked about reasoning (OpenRouter's `reasoning`, OpenAI's effort, Anthropic's thinking).

    `budget_tokens`: an explicit thinking budget; `exclude`: think, but do not show the client;
    `enabled`: False turns thinking off, True asks for it at the model's default; `summary`: the kind of
    reasoning summary asked for (OpenAI's "auto" | "concise" | "detailed").
    """

    effort: Effort | None = None
    budget_tokens: int | None = None
    exclude: bool = False
    enabled: bool | None = None
    summary: str | None = None


class Origin(Struct, frozen=True):
    """The dialect a request arrived in and its body as the client sent it (for lossless passthrough)."""

    dialect: str
    body: bytes = b""

    def __repr__(self) -> str:  # a body may be megabytes and hold anything: never print it
        return f"Origin({self.dialect!r}, {len(self.body)} bytes)"


class ChatRequest(Struct, frozen=True):
    """A conversation and what the client asked of the answer; the model and routing travel beside it."""

    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    output: OutputFormat | None = None
    sampling: Sampling = field(default_factory=Sampling)
    max_output_tokens: int | None = None
    choices: int | None = None  # answers asked for (OpenAI's `n`); None: one
    stop: tuple[str, ...] = ()
    reasoning: Reasoning | None = None
    modalities: tuple[str, ...] = ()  # output modalities asked for ("text", "image", "audio"); () = text
    user: str | None = None
    metadata: Mapping[str, str] | None = None
    extensions: Extensions = NO_EXTENSIONS
    origin: Origin | None = None
    # Added after canonical-v1 (issue 21): how long-winded the answer is ("low" ... "max"); log probabilities
    # of the output tokens (None: not asked; n: with the n likeliest alternatives per token); a breakpoint on
    # the prompt's last cacheable block (automatic caching); the prompt cache's routing key; the client's
    # session id; image output options (OpenRouter's `image_config`: aspect_ratio, image_size, ...).
    verbosity: str | None = None
    logprobs: int | None = None
    cache: CacheControl | None = None
    prompt_cache_key: str | None = None
    session_id: str | None = None
    image_config: Mapping[str, Any] | None = None


def image_urls(request: ChatRequest) -> list[str]:
    """Every image URL of the conversation's messages (tool results included), in order."""
    return [part.url for message in request.messages for part in _parts(message.parts) if isinstance(part, ImagePart)]


def with_image_urls(request: ChatRequest, replaced: Mapping[str, str]) -> ChatRequest:
    """The request with each image whose URL is a key of `replaced` pointing at its value instead (e.g. the
    gateway's data: URL of an image it fetched for a provider that cannot)."""
    if not replaced:
        return request

    def swap(part: Part) -> Part:
        if isinstance(part, ImagePart) and part.url in replaced:
            return replace(part, url=replaced[part.url])
        if isinstance(part, ToolResultPart):
            return replace(part, content=tuple(map(swap, part.content)))
        return part

    return replace(request, messages=tuple(replace(m, parts=tuple(map(swap, m.parts))) for m in request.messages))


def _parts(parts: tuple[Part, ...]) -> list[Part]:
    """Parts with the content of tool results spread in after them."""
    out: list[Part] = []
    for part in parts:
        out.append(part)
        if isinstance(part, ToolResultPart):
            out.extend(_parts(part.content))
    return out


def single_text(parts: tuple[Part, ...]) -> str | None:
    """The text of content that is one plain text part (no breakpoint, no extension): what wire formats
    that take a string for content get as a string."""
    if len(parts) == 1 and isinstance(part := parts[0], TextPart) and part.cache is None and not part.extensions:
        return part.text
    return None
