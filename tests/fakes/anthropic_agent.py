"""A fake model API (Anthropic Messages, and OpenAI Chat Completions) that plays the model's side of one agent
turn, for a coding agent under test.

An agent (Claude Code) sends requests whose number and order are its own business (side requests for titles,
quota probes, token counts), so the answers are decided by what each request holds rather than by a queue:

- a conversation whose last user turn carries a `tool_result` is answered with text quoting that result (the
  proof that the agent ran the tool and sent its output back);
- a request offering the scripted tool is answered with one `tool_use` block calling it with the scripted input;
- anything else with a short text; `/v1/messages/count_tokens` with a count.

The same rules answer `/v1/chat/completions` in OpenAI's shapes (a `tool` message carries the result; a
`tool_calls` answer calls the tool), for the agent run on a model the gateway translates to. Answers are
streamed (SSE: https://platform.claude.com/docs/en/build-with-claude/streaming,
https://platform.openai.com/docs/api-reference/chat-streaming) or whole, as the request asks. Every request is
recorded with its headers and body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER_PREFIX = "The tool said: "


@dataclass
class AgentScript:
    tool: str
    tool_input: dict[str, Any]
    requests: list[dict[str, Any]] = field(default_factory=list)  # path, headers, body (parsed JSON)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The content blocks of the answer to `body`."""
        result = _last_tool_result(body.get("messages") or [])
        if result is not None:
            return [{"type": "text", "text": ANSWER_PREFIX + result}]
        if any(isinstance(t, dict) and t.get("name") == self.tool for t in body.get("tools") or ()):
            return [{"type": "tool_use", "id": "toolu_fake_1", "name": self.tool, "input": self.tool_input}]
        return [{"type": "text", "text": "ok"}]


def _openai_answer(script: AgentScript, body: dict[str, Any]) -> dict[str, Any]:
    """The assistant message (OpenAI's shape) the same rules give for a Chat Completions request."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        content = last.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or ())
        return {"role": "assistant", "content": ANSWER_PREFIX + text}
    offered = {t.get("function", {}).get("name") for t in body.get("tools") or ()}
    if script.tool in offered:
        call = {"id": "call_fake_1", "type": "function",
                "function": {"name": script.tool, "arguments": json.dumps(script.tool_input)}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"role": "assistant", "content": "ok"}


def _openai_chunks(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": "fake"}
    delta = {k: v for k, v in message.items() if k != "tool_calls"}
    calls = [{**c, "index": i} for i, c in enumerate(message.get("tool_calls") or ())]
    yield {**base, "choices": [{"index": 0, "delta": {**delta, **({"tool_calls": calls} if calls else {})}}]}
    finish = "tool_calls" if calls else "stop"
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    yield {**base, "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}


def _last_tool_result(messages: list[Any]) -> str | None:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and block.get("type") == "tool_result":
            inner = block.get("content")
            if isinstance(inner, list):
                return "".join(b.get("text", "") for b in inner if isinstance(b, dict))
            return str(inner or "")
    return None


def _events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    shell = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": shell}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": block["text"]}}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {**block, "input": {}}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"],
                                                               "stop_sequence": None},
                            "usage": {"output_tokens": message["usage"]["output_tokens"]}}
    yield "message_stop", {"type": "message_stop"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        script = self.server.script
        with script.lock:
            script.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body})
        if self.path.startswith("/v1/messages/count_tokens"):
            self._json({"input_tokens": 42})
            return
        if self.path.startswith("/v1/chat/completions"):
            self._openai(_openai_answer(script, body), bool(body.get("stream")))
            return
        content = script.answer(body)
        stop = "tool_use" if content[-1]["type"] == "tool_use" else "end_turn"
        message = {"id": f"msg_fake_{len(script.requests)}", "type": "message", "role": "assistant",
                   "model": body.get("model"), "content": content, "stop_reason": stop, "stop_sequence": None,
                   "usage": {"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                             "output_tokens": 20}}
        if not body.get("stream"):
            self._json(message)
            return
        self._sse(b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in _events(message)))

    def _openai(self, message: dict[str, Any], stream: bool) -> None:
        if not stream:
            finish = "tool_calls" if message.get("tool_calls") else "stop"
            self._json({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": "fake",
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})
            return
        chunks = (f"data: {json.dumps(chunk)}\n\n".encode() for chunk in _openai_chunks(message))
        self._sse(b"".join(chunks) + b"data: [DONE]\n\n")

    def _sse(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: AgentScript) -> None:
        self.script = script
        super().__init__(("127.0.0.1", 0), _Handler)


@contextmanager
def agent_upstream(script: AgentScript) -> Iterator[str]:
    """Serve `script` on loopback; yields its base URL (what ANTHROPIC_BASE_URL of the gateway is set to)."""
    server = _Server(script)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
