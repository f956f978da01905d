"""Run in a fresh interpreter by the harness: import one entry module, serve one request in-process, report.

    python bench/coldstart_child.py entry functions/models/app.py --event events/models.json
    python bench/coldstart_child.py entry functions/chat_completions/app.py --asgi-event event.json
    python bench/coldstart_child.py entry functions/x/app.py --import-only
    python bench/coldstart_child.py import litellm

It prints one line, ``BENCH_COLDSTART {json}``, with `time.monotonic()` stamps (the parent took its own just
before starting this process: CLOCK_MONOTONIC is system-wide on Linux) and in-process durations.

- A module with a `handler` (Mangum) is called as Lambda calls it: ``handler(event, context)``.
- A module with an `app` (ASGI, run by uvicorn under the Lambda Web Adapter) gets the same event's request
  (method, path, query, headers, body) through a minimal ASGI call, as uvicorn would deliver it (no
  server, no socket on this side; the app's own upstream call is real).

Only the standard library is imported before the entry module, so nothing here is counted as its import;
`asyncio` and `json` are imported after it (the entry has loaded them anyway). It also runs under the
LiteLLM environment's interpreter, which has nothing of this project.
"""

import time

STARTED = time.monotonic()
STARTED_PERF = time.perf_counter()

import sys  # noqa: E402  (after the first stamp, on purpose)

if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    del sys.path[0]  # this script's directory (bench/): its modules must not shadow anything the entry imports


def _stamp() -> tuple[float, float]:
    return time.monotonic(), time.perf_counter()


def _entry(path: str, args: list[str]) -> dict[str, object]:
    namespace = _import_entry(path)
    imported, imported_perf = _stamp()
    import json

    options = dict(zip(args[::2], args[1::2], strict=False)) if "--import-only" not in args else {}
    out: dict[str, object] = {"imported": imported, "import_s": imported_perf - STARTED_PERF}
    handler = namespace.get("handler")
    if callable(handler) and "--event" in options:
        with open(options["--event"], encoding="utf-8") as f:
            event = json.load(f)
        result = handler(event, _LambdaContext())
        status = int(result["statusCode"])
        size = len(result.get("body") or "")
    elif "app" in namespace and "--asgi-event" in options:
        import asyncio

        with open(options["--asgi-event"], encoding="utf-8") as f:
            method, route, headers, body = request_of(json.load(f))
        status, payload = asyncio.run(asgi_call(namespace["app"], method, route, headers, body))
        size = len(payload)
    elif "--import-only" in args:
        out["cpu_s"] = _cpu_seconds()
        return out
    else:
        raise SystemExit(f"{path}: no `handler` with --event, nor `app` with --asgi-event")
    answered, answered_perf = _stamp()
    out.update(answered=answered, request_s=answered_perf - imported_perf, status=status, response_bytes=size,
               cpu_s=_cpu_seconds())
    return out


def _import_entry(path: str) -> dict[str, object]:
    """The entry module imported as the Lambda runtime imports a handler (`app.handler`: its directory on
    sys.path, then `importlib.import_module`), not through runpy, whose own imports (pkgutil, ~10 ms) Lambda never
    pays."""
    import importlib

    directory, _, filename = path.rpartition("/")
    sys.path.insert(0, directory or ".")
    return vars(importlib.import_module(filename.removesuffix(".py")))


def _cpu_seconds() -> float:
    """User + system CPU of this process (every thread) so far: the cold start's CPU up to the answer, without
    the interpreter's teardown, which a Lambda function never does between invocations."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def request_of(event: dict[str, object]) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path with query, headers, body) of an API Gateway REST (v1) proxy event."""
    import base64
    from urllib.parse import urlencode

    given = event.get("headers")
    headers = {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
    query = event.get("queryStringParameters")
    path = str(event["path"]) + ("?" + urlencode(query) if isinstance(query, dict) and query else "")
    raw = event.get("body") or ""
    body = base64.b64decode(str(raw)) if event.get("isBase64Encoded") else str(raw).encode()
    return str(event["httpMethod"]), path, headers, body


async def asgi_call(app: object, method: str, path: str, headers: dict[str, str],
                    body: bytes) -> tuple[int, bytes]:
    """One HTTP request through an ASGI app: (status, whole body). Streams are read to their end."""
    import asyncio

    finished = asyncio.Event()
    delivered = False
    path, _, query = path.partition("?")
    status = 0
    parts: list[bytes] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()
                                     if k.lower() not in ("content-length", "host")]
        + [(b"content-length", str(len(body)).encode()), (b"host", b"127.0.0.1:8080")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080), "state": {},
    }

    async def receive() -> dict[str, object]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # a disconnect only once the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            code = message["status"]
            status = code if isinstance(code, int) else 0
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            parts.append(chunk if isinstance(chunk, bytes) else b"")
            if not message.get("more_body", False):
                finished.set()

    await app(scope, receive, send)  # type: ignore[operator]
    return status, b"".join(parts)


class _LambdaContext:
    """What Mangum reads of a Lambda context (nothing, today), with Lambda's names."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def _import(module: str) -> dict[str, object]:
    import importlib

    importlib.import_module(module)
    imported, imported_perf = _stamp()
    return {"imported": imported, "import_s": imported_perf - STARTED_PERF, "cpu_s": _cpu_seconds()}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("entry", "import"):
        print(__doc__, file=sys.stderr)
        return 2
    out = _entry(argv[1], argv[2:]) if argv[0] == "entry" else _import(argv[1])
    out["started"] = STARTED
    import json

    print("BENCH_COLDSTART " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
