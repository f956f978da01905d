"""The soak's traffic (tests/test_soak.py): each kind of request, what the upstream answers it, what must follow.

Requests run concurrently, so the fake upstream cannot answer from a FIFO queue: each request carries its
scenario's name in its text (`soak-<name>`), which every wire format copies into the upstream body, and
`ScriptedUpstream` answers by that name (and by whether the primary host or the Groq backup is asked).

Expected outcome per fault (LAMBDAROUTER_RETRY_ROUNDS=1, read timeout `READ_TIMEOUT`):

| fault | client gets | ledger |
|---|---|---|
| primary host 500, backup configured (`resilience/openai-first`) | 200 from groq | success, cost told |
| primary host resets the connection, backup configured, streamed | 200 stream from groq | success, cost told |
| only host answers 500 / resets before headers / sends malformed JSON | 502 envelope | error, cost 0 |
| only host answers 429 with `Retry-After: 60` | 429, `retry-after: 60` | error, cost 0 |
| only host stalls past the read timeout | 408 | error, cost 0 |
| stream cut after 2 chunks | 200 stream ending in an error chunk + usage | error, the (estimated) cost told |
| client closes a slow stream after 2 events | (gone) | aborted |
| bad key / invalid body / unknown model | 401 / 400 / 400 | no record, no upstream call |
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.recordings import load_recording
from tests.fakes.upstream import HEADERS, NEVER, FakeUpstream, ReceivedRequest, Reply
from tests.openai_chunks import slow_stream

READ_TIMEOUT = 2.0
BACKUP_PREFIX = "/groq/"
TAG = re.compile(rb"soak-([a-z0-9-]+)")
TOOLS = [{"type": "function", "function": {"name": "secret_retrieval_tool", "description": "Retrieve a secret.",
                                           "parameters": {"type": "object", "required": ["password"],
                                                          "properties": {"password": {"type": "string"}}}}}]


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: int  # relative frequency in the run
    route: str  # gateway path under /api/v1
    body: dict[str, Any]
    status: int  # what the client must get
    ledger: str | None  # the generation's ledger status; None: refused, no record and no upstream call
    primary: Reply | None = None  # what the first (or only) host answers
    backup: Reply | None = None  # what groq answers, when it is asked
    abort_after: int = 0  # the client closes the stream after this many `data:` events
    authorization: str | None = None  # None: the soak key

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


def _chat(name: str, model: str, hosts: list[str] | None, stream: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": f"soak-{name} say hi"}],
                            "stream": stream, **extra}
    if hosts is not None:
        body["provider"] = {"order": hosts, "allow_fallbacks": len(hosts) > 1} if len(hosts) > 1 else {"only": hosts}
    return body


def _recorded(name: str) -> Reply:
    return Reply.from_recording(load_recording(name))


def _openai_error(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"error": {"message": "soak fault", "type": "server_error"}}, status=status, headers=headers)


def _cut(recording: str, after: int) -> Reply:
    whole = _recorded(recording)
    return Reply(status=200, headers=whole.headers, chunks=whole.chunks, reset_after_chunks=after)


def _embedding() -> Reply:
    return Reply.json({"object": "list", "model": "text-embedding-3-small",
                       "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
                       "usage": {"prompt_tokens": 5, "total_tokens": 5}})


def scenarios() -> list[Scenario]:
    gpt = "openai/gpt-4o"
    ok = [
        Scenario("chat", 24, "/chat/completions", _chat("chat", gpt, ["openai"]), 200, "success",
                 _recorded("openai/text-basic")),
        Scenario("chat-stream", 24, "/chat/completions", _chat("chat-stream", gpt, ["openai"], True), 200, "success",
                 _recorded("openai/text-stream")),
        Scenario("tools", 8, "/chat/completions", _chat("tools", gpt, ["openai"], tools=TOOLS), 200, "success",
                 _recorded("openai/tool-call-parallel")),
        Scenario("tools-stream", 8, "/chat/completions", _chat("tools-stream", gpt, ["openai"], True, tools=TOOLS),
                 200, "success", _recorded("openai/tool-call-parallel-stream")),
        Scenario("anthropic-stream", 6, "/chat/completions",
                 _chat("anthropic-stream", "resilience/anthropic-first", ["anthropic"], True), 200, "success",
                 _recorded("anthropic/text-stream")),
        Scenario("gemini", 6, "/chat/completions", _chat("gemini", "resilience/gemini-first", ["google-ai-studio"]),
                 200, "success", _recorded("gemini/text-basic")),
        Scenario("bedrock-stream", 6, "/chat/completions",
                 _chat("bedrock-stream", "resilience/bedrock-first", ["amazon-bedrock"], True), 200, "success",
                 _recorded("bedrock/text-stream")),
        Scenario("embeddings", 8, "/embeddings", {"model": "openai/text-embedding-3-small", "input": "soak-embeddings"},
                 200, "success", _embedding()),
        Scenario("completions", 5, "/completions", {"model": gpt, "prompt": "soak-completions say hi",
                                                    "provider": {"only": ["openai"]}}, 200, "success",
                 _recorded("openai/text-basic")),
        Scenario("completions-stream", 5, "/completions", {"model": gpt, "prompt": "soak-completions-stream say hi",
                                                           "stream": True, "provider": {"only": ["openai"]}},
                 200, "success", _recorded("openai/text-stream")),
    ]
    return ok + _faults() + _refusals()


def _faults() -> list[Scenario]:
    gpt, only = "openai/gpt-4o", ["openai"]
    return [
        Scenario("fallback", 8, "/chat/completions", _chat("fallback", "resilience/openai-first", ["openai", "groq"]),
                 200, "success", _openai_error(500), _recorded("openai/text-basic")),
        Scenario("provider-down-stream", 6, "/chat/completions",
                 _chat("provider-down-stream", "resilience/anthropic-first", ["anthropic", "groq"], True), 200,
                 "success", Reply(reset_before_headers=True), _recorded("openai/text-stream")),
        Scenario("fault-500", 3, "/chat/completions", _chat("fault-500", gpt, only), 502, "error", _openai_error(500)),
        Scenario("fault-reset", 3, "/chat/completions", _chat("fault-reset", gpt, only), 502, "error",
                 Reply(reset_before_headers=True)),
        Scenario("fault-malformed", 2, "/chat/completions", _chat("fault-malformed", gpt, only), 502, "error",
                 Reply(status=200, headers={"content-type": "application/json"}, body=b'{"choices": [')),
        Scenario("fault-429", 2, "/chat/completions", _chat("fault-429", gpt, only), 429, "error",
                 _openai_error(429, {"retry-after": "60"})),
        Scenario("fault-stall", 1, "/chat/completions", _chat("fault-stall", gpt, only), 408, "error",
                 Reply(status=200, headers={"content-type": "application/json"}, body=b"{}",
                       gates={HEADERS: NEVER})),  # silent until the gateway's read timeout closes the connection
        Scenario("cut-stream", 4, "/chat/completions", _chat("cut-stream", gpt, only, True), 200, "error",
                 _cut("openai/text-stream", 2)),
        # Two events, then the upstream holds the rest until the gateway leaves: the answer cannot complete
        # before the client's abort reaches the gateway, however busy the machine.
        Scenario("aborted", 5, "/chat/completions", _chat("aborted", gpt, only, True), 200, "aborted",
                 dataclasses.replace(slow_stream(30, 0), gates={2: NEVER}), abort_after=2),
    ]


def _refusals() -> list[Scenario]:
    return [
        Scenario("bad-key", 2, "/chat/completions", _chat("bad-key", "openai/gpt-4o", None), 401, None,
                 authorization="Bearer sk-lr-v1-" + "0" * 64),
        Scenario("bad-body", 2, "/chat/completions", {"model": "openai/gpt-4o", "messages": "soak-bad-body"}, 400,
                 None),
        Scenario("unknown-model", 2, "/chat/completions", _chat("unknown-model", "nobody/no-such-model", None), 400,
                 None),
    ]


class ScriptedUpstream(FakeUpstream):
    """Answers by the scenario named in the request body; counts requests instead of keeping them (20,000+)."""

    def __init__(self, table: list[Scenario]) -> None:
        super().__init__()
        self.table = {s.name: s for s in table}
        self.asked: dict[str, int] = {}
        self.untagged: list[str] = []

    def _record_and_pick(self, request: ReceivedRequest) -> Reply:
        found = TAG.search(request.body)
        scenario = self.table.get(found.group(1).decode()) if found else None
        backup = request.path.startswith(BACKUP_PREFIX)
        reply = None if scenario is None else scenario.backup if backup else scenario.primary
        with self._lock:
            if reply is None:
                self.untagged.append(f"{request.method} {request.path}: {request.body[:200]!r}")
                return Reply.json({"error": {"message": "soak: no scenario for this request"}}, status=500)
            where = f"{scenario.name}@{'backup' if backup else 'primary'}" if scenario else ""
            self.asked[where] = self.asked.get(where, 0) + 1
        return reply
