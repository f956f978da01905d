"""POST /completions (legacy `prompt`) wire format, and its translation to chat for chat-only models.

Reference: https://platform.openai.com/docs/api-reference/completions/create — `prompt` is a string, an array
of strings, an array of token ids or an array of token-id arrays; `suffix`, `echo`, `logprobs` (an integer,
at most 5), `best_of`, `n`, `stop`, `max_tokens` (default 16), `stream` with `stream_options`. The answer is
`{"id", "object": "text_completion", "created", "model", "choices": [{"text", "index", "logprobs",
"finish_reason"}], "usage"}`; a stream sends the same object per chunk.

An endpoint that serves the legacy API natively gets the request as it is (see legacy.py); a chat-only one
gets the prompt as one user message of a chat request, which cannot honour the legacy-only features.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.dialects.openrouter.answer_schema import ChunkError, Usage
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest, ProviderPreferences, TokenCount

# Fields copied as they are onto a chat request (same meaning in both APIs).
SHARED_FIELDS = ("model", "models", "max_tokens", "temperature", "top_p", "stop", "seed", "frequency_penalty",
                 "presence_penalty", "logit_bias", "user", "provider", "stream", "top_k", "repetition_penalty",
                 "min_p")
# The most log probabilities the legacy API returns per token (OpenAI's reference: "The maximum value for
# logprobs is 5").
MAX_LOGPROBS = 5

Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenRouter extensions and sampling fields ride along

    model: str | None = None
    models: list[str] | None = None
    provider: ProviderPreferences | None = None
    prompt: Prompt
    stream: bool = False
    max_tokens: TokenCount | None = None
    echo: bool | None = None
    suffix: str | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    best_of: int | None = Field(default=None, ge=1, le=20)
    logprobs: int | None = Field(default=None, ge=0, le=MAX_LOGPROBS)

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, value: Prompt) -> Prompt:
        if isinstance(value, str):
            if not value:
                raise ValueError("prompt must not be empty")
        elif not value or any(item == "" or item == [] for item in value):
            raise ValueError("prompt must not be empty, nor hold an empty prompt")
        return value

    def model_ids(self) -> list[str]:
        return list(dict.fromkeys(([self.model] if self.model else []) + (self.models or [])))

    def prompts(self) -> list[str] | list[list[int]]:
        """Each prompt of the request: strings, or token-id arrays."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return [prompt]
        if all(isinstance(item, int) for item in prompt):
            return [cast(list[int], prompt)]  # one token-id array
        return cast(list[str] | list[list[int]], prompt)

    def token_prompts(self) -> bool:
        return not isinstance(self.prompts()[0], str)

    def choices_per_prompt(self) -> int:
        """Completions generated (and billed) per prompt: `best_of` when set, else `n`."""
        return max(self.n or 1, self.best_of or 1)

    def legacy_features(self) -> list[str]:
        """The `LEGACY_PARAMETERS` this request uses: features only a native /completions endpoint has."""
        used = [name for name, on in (("suffix", self.suffix is not None), ("echo", bool(self.echo)),
                                      ("best_of", (self.best_of or 1) > 1), ("n", (self.n or 1) > 1),
                                      ("logprobs", self.logprobs is not None)) if on]
        if len(self.prompts()) > 1:
            used.append("prompt_array")
        if self.token_prompts():
            used.append("prompt_tokens")
        return used

    def to_chat(self) -> ChatCompletionRequest:
        """The chat request serving this prompt on a chat-only model (one prompt, no legacy-only feature)."""
        if features := self.legacy_features():
            raise bad_request(f"{describe(features)} cannot be served by a chat model's translation of /completions.")
        data: dict[str, Any] = self.model_dump(include=set(SHARED_FIELDS), exclude_unset=True)
        data.update({k: v for k, v in (self.model_extra or {}).items() if k in SHARED_FIELDS})
        data["messages"] = [{"role": "user", "content": self.prompts()[0]}]
        data["stream"] = self.stream
        try:
            return ChatCompletionRequest.model_validate(data)
        except ValueError as exc:
            raise bad_request(f"This request cannot be translated to chat: {exc}") from None


FEATURE_WORDS = {"prompt_array": "an array of prompts", "prompt_tokens": "a prompt of token ids"}


def describe(features: list[str]) -> str:
    """The legacy features named as a client reads them: `echo`, `n` above 1, an array of prompts, ..."""
    words = {"n": "`n` above 1", "best_of": "`best_of` above 1"}
    return ", ".join(FEATURE_WORDS.get(f) or words.get(f) or f"`{f}`" for f in features)


class CompletionChoice(BaseModel):
    text: str
    index: int = 0
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None


class TextCompletion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    provider: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    error: ChunkError | None = None  # a stream that failed after its first byte, as chat streams say it


def error_body(error: GatewayError) -> ChunkError:
    return ChunkError(code=error.status, message=error.message, metadata=error.metadata or None)
