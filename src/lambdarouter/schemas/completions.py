"""POST /completions (legacy `prompt`) wire format, and its translation to and from chat.

Reference: https://platform.openai.com/docs/api-reference/completions. Served by translating the prompt
into one user message of a chat request, so it goes through the chat path's routing, fallback, budgets and
ledger unchanged; the chat answer's text becomes `choices[0].text`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambdarouter.errors import bad_request
from lambdarouter.schemas.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChunkError, Usage

# Fields copied as they are onto the chat request (same meaning in both APIs).
SHARED_FIELDS = ("model", "models", "max_tokens", "temperature", "top_p", "stop", "seed", "frequency_penalty",
                 "presence_penalty", "logit_bias", "user", "provider", "stream", "top_k", "repetition_penalty",
                 "min_p")


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenRouter extensions ride along to the chat request

    model: str | None = None
    models: list[str] | None = None
    prompt: str | list[str]
    stream: bool = False
    echo: bool | None = None
    suffix: str | None = None
    n: int | None = Field(default=None, ge=1)
    best_of: int | None = Field(default=None, ge=1)

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        texts = [value] if isinstance(value, str) else value
        if len(texts) != 1 or not texts[0]:
            raise ValueError("prompt must be one non-empty string (batches of prompts are not supported)")
        return value

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def to_chat(self) -> ChatCompletionRequest:
        """The chat request serving this prompt; 400 for what a chat translation cannot honour."""
        for name in ("echo", "suffix"):
            if getattr(self, name):
                raise bad_request(f"`{name}` is not supported by this gateway's /completions.")
        if (self.n or 1) > 1 or (self.best_of or 1) > 1:
            raise bad_request("`n` and `best_of` above 1 are not supported by this gateway's /completions.")
        data: dict[str, Any] = self.model_dump(include=set(SHARED_FIELDS), exclude_unset=True)
        data.update({k: v for k, v in (self.model_extra or {}).items() if k in SHARED_FIELDS})
        data["messages"] = [{"role": "user", "content": self.text()}]
        return ChatCompletionRequest.model_validate(data)


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
    error: ChunkError | None = None  # a stream that failed after its first byte, as chat streams say it


def from_chat(completion: ChatCompletion) -> TextCompletion:
    choices = [CompletionChoice(text=_text(c.message.content), index=c.index, finish_reason=c.finish_reason,
                                native_finish_reason=c.native_finish_reason) for c in completion.choices]
    return TextCompletion(id=completion.id, created=completion.created, model=completion.model,
                          provider=completion.provider, choices=choices, usage=completion.usage)


def chunk_from_chat(chunk: ChatCompletionChunk) -> TextCompletion | None:
    """A chat chunk as a text-completion chunk; None for chunks carrying nothing a text client reads."""
    choices = [CompletionChoice(text=c.delta.content or "", index=c.index, finish_reason=c.finish_reason,
                                native_finish_reason=c.native_finish_reason)
               for c in chunk.choices if c.delta.content or c.finish_reason]
    if not choices and chunk.usage is None and chunk.error is None:
        return None
    return TextCompletion(id=chunk.id, created=chunk.created, model=chunk.model, provider=chunk.provider,
                          choices=choices, usage=chunk.usage, error=chunk.error)


def _text(content: Any) -> str:
    return content if isinstance(content, str) else ""
