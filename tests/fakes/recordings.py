"""Typed access to the recorded provider exchanges in ``tests/recordings``.

Only the in-repo copy under ``tests/recordings`` is ever read (see its README.md and INDEX.md for the
record format and attribution).
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDINGS_DIR = Path(__file__).resolve().parent.parent / "recordings"
PROVIDERS = ("openai", "anthropic", "gemini", "bedrock")

SSE_CONTENT_TYPE = "text/event-stream"
EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"


@dataclass(frozen=True)
class Source:
    """Where a recording came from (the other open-source project's cassette)."""

    repo: str
    path: str
    commit: str
    interaction_index: int
    license: str


@dataclass(frozen=True)
class Recording:
    """One recorded request/response exchange.

    ``request`` is the parsed request JSON body; ``body`` is the response body as stored in the record
    (parsed JSON, raw SSE text, or ``{"eventstream_base64", "events"}`` for Bedrock event streams).
    Use :meth:`body_bytes` for the exact bytes to serve.
    """

    name: str
    provider: str
    endpoint: str
    query: str | None
    method: str
    url: str
    request: dict[str, Any]
    request_headers: dict[str, str]
    status: int
    response_headers: dict[str, str]
    body: Any
    body_text: str | None
    body_encoding: str | None
    source: Source
    capture_fidelity: str
    notes: str

    @property
    def content_type(self) -> str:
        return self.response_headers.get("content-type", "")

    @property
    def is_eventstream(self) -> bool:
        """True for a binary Bedrock ``application/vnd.amazon.eventstream`` body."""
        return isinstance(self.body, dict) and "eventstream_base64" in self.body

    @property
    def is_sse(self) -> bool:
        """True when the body is raw text served as ``text/event-stream``.

        Note: Gemini's 404 on a streaming request is a JSON error served with an SSE content type; it
        counts as SSE here (it is one event-less chunk of text).
        """
        return isinstance(self.body, str) and self.content_type.startswith(SSE_CONTENT_TYPE)

    @property
    def target(self) -> str:
        """The endpoint path plus ``?query`` when the recording has one (e.g. ``alt=sse``)."""
        return f"{self.endpoint}?{self.query}" if self.query else self.endpoint

    def body_bytes(self) -> bytes:
        """The exact response bytes to serve.

        Raw text bodies (SSE, CRLF preserved) as-is; else ``body_text`` when the cassette kept the raw
        JSON text; else the base64-decoded Bedrock event stream; else compact ``json.dumps(body)``.
        """
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        if self.body_text is not None:
            return self.body_text.encode("utf-8")
        if self.is_eventstream:
            return base64.b64decode(self.body["eventstream_base64"], validate=True)
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def json_body(self) -> Any:
        """The parsed JSON response body (raises ValueError for SSE / event-stream bodies)."""
        if isinstance(self.body, str) or self.is_eventstream:
            raise ValueError(f"{self.name}: response body is not JSON")
        return self.body

    def events(self) -> list[dict[str, Any]] | None:
        """The decoded Bedrock event-stream view (``headers`` + JSON ``payload`` per frame), else None."""
        if not self.is_eventstream:
            return None
        events: list[dict[str, Any]] = self.body["events"]
        return events


@functools.cache
def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _path_for(name: str) -> Path:
    rel = name.removesuffix(".json")
    parts = rel.split("/")
    if len(parts) != 2 or parts[0] not in PROVIDERS or not parts[1] or parts[1].startswith("."):
        raise ValueError(f"recording name must look like '<provider>/<name>', got {name!r}")
    path = RECORDINGS_DIR / parts[0] / f"{parts[1]}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no recording {rel!r} (looked for {path})")
    return path


def load_recording(name: str) -> Recording:
    """Load ``tests/recordings/<name>.json``; ``name`` is like ``"openai/text-stream"``.

    Every call returns a fresh object (mutating its dicts never leaks into other tests).
    """
    path = _path_for(name)
    raw: dict[str, Any] = json.loads(_read_text(path))
    response: dict[str, Any] = raw["response"]
    src: dict[str, Any] = raw["source"]
    return Recording(
        name=name.removesuffix(".json"),
        provider=str(raw["provider"]),
        endpoint=str(raw["endpoint"]),
        query=raw.get("query"),
        method=str(raw.get("method", "POST")),
        url=str(raw.get("url", "")),
        request=raw["request"],
        request_headers={str(k).lower(): str(v) for k, v in raw.get("request_headers", {}).items()},
        status=int(response["status"]),
        response_headers={str(k).lower(): str(v) for k, v in response.get("headers", {}).items()},
        body=response["body"],
        body_text=response.get("body_text"),
        body_encoding=response.get("body_encoding"),
        source=Source(
            repo=str(src["repo"]),
            path=str(src["path"]),
            commit=str(src["commit"]),
            interaction_index=int(src["interaction_index"]),
            license=str(src["license"]),
        ),
        capture_fidelity=str(raw.get("capture_fidelity", "")),
        notes=str(raw.get("notes", "")),
    )


def all_recordings(provider: str | None = None) -> list[str]:
    """Sorted recording names (``"<provider>/<name>"``), optionally for one provider only."""
    if provider is not None and provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
    providers = PROVIDERS if provider is None else (provider,)
    return sorted(
        f"{prov}/{path.stem}" for prov in providers for path in (RECORDINGS_DIR / prov).glob("*.json")
    )
