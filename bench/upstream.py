"""A minimal, fast fake OpenAI-compatible upstream for the latency benchmark.

A raw ASGI app (no framework) served by uvicorn in its own process. ``POST /v1/chat/completions``
answers a fixed small ``chat.completion``, or, when the JSON body has ``"stream": true``, an SSE stream
shaped like OpenAI's: a role chunk, ``--content-chunks`` content chunks, a finish chunk, a usage chunk
and ``data: [DONE]``. ``POST /v1/embeddings`` answers one small fixed vector per input. ``GET /health``
says ok. Every chat body is built once at start-up, so the upstream's own cost is as small and as steady
as possible.

Self-contained on purpose (only the standard library and uvicorn): the harness starts it by path,
``python bench/upstream.py --port N``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MODEL = "gpt-4o-2024-08-06"
CREATED = 1_700_000_000
COMPLETION_ID = "chatcmpl-bench0000000000000000000000"
FINGERPRINT = "fp_bench"
CONTENT = "Hello! How can I help you today?"
USAGE: dict[str, Any] = {
    "prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                  "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
}
MAX_BODY_BYTES = 1024 * 1024


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def completion_body() -> bytes:
    return _dumps({
        "id": COMPLETION_ID, "object": "chat.completion", "created": CREATED, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": CONTENT, "refusal": None,
                                             "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": USAGE, "service_tier": "default", "system_fingerprint": FINGERPRINT,
    })


def embeddings_body(inputs: int, model: str) -> bytes:
    vector = [0.0123, -0.0456, 0.0789, -0.0012, 0.0345, -0.0678, 0.0901, -0.0234]
    return _dumps({
        "object": "list", "model": model,
        "data": [{"object": "embedding", "index": i, "embedding": vector} for i in range(inputs)],
        "usage": {"prompt_tokens": 5 * inputs, "total_tokens": 5 * inputs},
    })


def _chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
    body = {"id": COMPLETION_ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
            "service_tier": "default", "system_fingerprint": FINGERPRINT, "choices": choices, "usage": usage}
    return b"data: " + _dumps(body) + b"\n\n"


def stream_events(content_chunks: int) -> list[bytes]:
    """The SSE events of one streamed answer, each sent as its own body message."""
    words = [f"tok{i} " for i in range(content_chunks)]
    events = [_chunk([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                       "logprobs": None, "finish_reason": None}])]
    events += [_chunk([{"index": 0, "delta": {"content": w}, "logprobs": None, "finish_reason": None}])
               for w in words]
    events.append(_chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    events.append(_chunk([], usage=USAGE))
    events.append(b"data: [DONE]\n\n")
    return events


def _headers(content_type: bytes, length: int | None = None) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return headers


def make_app(content_chunks: int) -> ASGIApp:
    completion = completion_body()
    events = stream_events(content_chunks)
    json_headers = _headers(b"application/json", len(completion))
    sse_headers = [*_headers(b"text/event-stream"), (b"cache-control", b"no-cache")]
    not_found = b'{"error":{"message":"not found","type":"invalid_request_error"}}'

    async def read_body(receive: Receive) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:  # bounded: the server delivers a finite body, and it is capped here
            message = await receive()
            if message["type"] != "http.request":
                return b""
            part: bytes = message.get("body", b"")
            size += len(part)
            if size > MAX_BODY_BYTES:
                return b""
            parts.append(part)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/health":
            await respond(send, 200, _headers(b"text/plain", 2), b"ok")
            return
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/embeddings"):
            await respond(send, 404, _headers(b"application/json", len(not_found)), not_found)
            return
        body = await read_body(receive)
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            bad = b'{"error":{"message":"body is not a JSON object","type":"invalid_request_error"}}'
            await respond(send, 400, _headers(b"application/json", len(bad)), bad)
            return
        if path == "/v1/embeddings":
            given = request.get("input")
            body = embeddings_body(len(given) if isinstance(given, list) else 1, str(request.get("model", "")))
            await respond(send, 200, _headers(b"application/json", len(body)), body)
            return
        if request.get("stream") is True:
            await send({"type": "http.response.start", "status": 200, "headers": sse_headers})
            for event in events:
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        await respond(send, 200, json_headers, completion)

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--content-chunks", type=int, default=16)
    args = parser.parse_args(argv)
    # Same uvicorn defaults (`auto` loop and HTTP implementation) as `lambdarouter serve`.
    uvicorn.run(make_app(args.content_chunks), host=args.host, port=args.port, log_level="warning",
                access_log=False, lifespan="off")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
