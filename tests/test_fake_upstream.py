"""The fake upstream serves recorded provider exchanges faithfully over real HTTP."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.recordings import RECORDINGS_DIR, all_recordings, load_recording
from tests.fakes.upstream import GATE_LIMIT, FakeUpstream, Reply, split_eventstream_frames, split_sse_events

pytest_plugins = ["tests.fakes.fixtures"]

TIMEOUT = httpx.Timeout(10.0)
TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture
def client(fake_upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_upstream.url, timeout=TIMEOUT) as c:
        yield c


def _post_recorded(client: httpx.Client, name: str) -> httpx.Response:
    rec = load_recording(name)
    return client.request(rec.method, rec.target, json=rec.request, headers=rec.request_headers)


# -- recordings ---------------------------------------------------------------------------------------


def test_recordings_all_load_with_attribution() -> None:
    names = all_recordings()
    assert len(names) >= 60
    assert {n.split("/")[0] for n in names} == {"openai", "anthropic", "gemini", "bedrock"}
    assert all_recordings("gemini") == [n for n in names if n.startswith("gemini/")]
    license_files = list((RECORDINGS_DIR / "LICENSES").iterdir())
    for name in names:
        rec = load_recording(name)
        assert rec.provider == name.split("/")[0]
        assert rec.source.repo
        assert rec.source.commit
        assert rec.source.license
        owner_repo = rec.source.repo.replace("/", "__")
        assert any(f.name.startswith(owner_repo) for f in license_files), rec.source.repo
        data = rec.body_bytes()
        assert data
        if rec.is_sse:
            assert b"".join(split_sse_events(data)) == data
        elif rec.is_eventstream:
            events = rec.events()
            assert events is not None
            assert len(split_eventstream_frames(data)) == len(events)
        else:
            assert json.loads(data) == rec.json_body()


def test_bad_recording_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="provider"):
        load_recording("../index")
    with pytest.raises(FileNotFoundError):
        load_recording("openai/does-not-exist")
    with pytest.raises(ValueError, match="unknown provider"):
        all_recordings("azure")


def test_suite_never_references_the_shared_collection() -> None:
    needles = ("../" + "shared", "/work/" + "shared")  # split so this file does not match itself
    offenders = []
    for path in TESTS_DIR.rglob("*"):
        if not path.is_file() or {"__pycache__", "node_modules"} & set(path.parts) or path.suffix == ".pyc":
            continue  # node_modules: the JS clients' installed packages (./scripts/test), not the suite
        if path.name == "README.md":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{path.relative_to(TESTS_DIR)}: {n}" for n in needles if n in text]
    assert offenders == []


# -- serving recordings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "openai/text-basic",  # pretty-printed body_text
        "anthropic/error-401-authentication",  # x-should-retry header
        "gemini/error-429-resource-exhausted",
        "bedrock/error-400-validation-invalid-model",  # x-amzn-errortype header
        "bedrock/text-basic",  # no body_text: compact json.dumps
    ],
)
def test_recorded_json_body_is_served_byte_for_byte(
    fake_upstream: FakeUpstream, client: httpx.Client, name: str
) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec))
    resp = _post_recorded(client, name)
    assert resp.status_code == rec.status
    assert resp.headers["content-type"] == rec.content_type
    for header, value in rec.response_headers.items():
        assert resp.headers[header] == value
    assert resp.content == rec.body_bytes()
    if rec.body_text is not None:
        assert resp.content == rec.body_text.encode("utf-8")
    else:
        assert resp.content == json.dumps(rec.body, separators=(",", ":")).encode("utf-8")
    assert resp.json() == rec.body


def test_sse_stream_arrives_event_by_event(fake_upstream: FakeUpstream, client: httpx.Client) -> None:
    """Each event is its own write: with event i+1 held until the client has read event i (gates, not time),
    every event boundary is also a read boundary, whatever the machine's load."""
    rec = load_recording("anthropic/text-stream")
    plain = Reply.from_recording(rec)
    assert plain.chunks is not None
    n = len(plain.chunks)
    assert n == 8
    gates = {i: threading.Event() for i in range(1, n)}
    fake_upstream.reply(Reply(plain.status, plain.headers, chunks=plain.chunks, gates=gates))
    event_ends = list(itertools.accumulate(len(chunk) for chunk in plain.chunks))

    received, offsets = b"", set()
    with client.stream("POST", rec.target, json=rec.request, headers=rec.request_headers) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream; charset=utf-8"
        for piece in resp.iter_raw():
            received += piece
            offsets.add(len(received))
            for i, end in enumerate(event_ends[:-1], start=1):
                if len(received) >= end:
                    gates[i].set()  # event i-1 is in: let event i go
    assert received == rec.body_bytes()
    assert set(event_ends) <= offsets  # events were not coalesced


def test_a_gate_never_opened_holds_the_reply_until_the_client_leaves(fake_upstream: FakeUpstream) -> None:
    before = fake_upstream.disconnects
    sent = threading.Event()
    fake_upstream.reply(Reply(chunks=[b"data: 1\n\n", b"data: 2\n\n"], gates={1: threading.Event()}, sent=sent))
    with httpx.Client(base_url=fake_upstream.url, timeout=TIMEOUT) as c, c.stream("POST", "/x") as resp:
        assert next(resp.iter_raw()) == b"data: 1\n\n"
    assert sent.wait(GATE_LIMIT / 2)  # ended by the client's leaving, not by the limit
    assert fake_upstream.disconnects == before + 1


def test_gemini_sse_keeps_crlf_and_splits_on_crlf_events(
    fake_upstream: FakeUpstream, client: httpx.Client
) -> None:
    rec = load_recording("gemini/text-stream")
    assert rec.query == "alt=sse"
    reply = Reply.from_recording(rec)
    assert reply.chunks is not None
    assert len(reply.chunks) == 2
    assert all(c.endswith(b"\r\n\r\n") for c in reply.chunks)
    fake_upstream.reply(reply, path=rec.endpoint)
    with client.stream("POST", rec.target, json=rec.request) as resp:
        body = resp.read()
    assert resp.status_code == 200
    assert body == rec.body.encode("utf-8")
    assert fake_upstream.requests[0].query == "alt=sse"


def test_bedrock_eventstream_bytes_are_identical(fake_upstream: FakeUpstream, client: httpx.Client) -> None:
    rec = load_recording("bedrock/text-stream")
    raw = json.loads((RECORDINGS_DIR / "bedrock" / "text-stream.json").read_text(encoding="utf-8"))
    expected = base64.b64decode(raw["response"]["body"]["eventstream_base64"])
    reply = Reply.from_recording(rec, chunk_delay=0.01)
    events = rec.events()
    assert events is not None
    assert reply.chunks is not None
    assert len(reply.chunks) == len(events)
    fake_upstream.reply(reply)
    with client.stream("POST", rec.target, json=rec.request) as resp:
        body = resp.read()
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert body == expected == rec.body_bytes()


def test_bedrock_eventstream_parses_with_boto3(fake_upstream: FakeUpstream) -> None:
    boto3 = pytest.importorskip("boto3")
    botocore_config = pytest.importorskip("botocore.config")
    rec = load_recording("bedrock/text-stream")
    fake_upstream.reply(Reply.from_recording(rec), path="^/model/[^/]+/converse-stream$")
    bedrock: Any = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake_upstream.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore_config.Config(retries={"max_attempts": 1}, read_timeout=10, connect_timeout=5),
    )
    out = bedrock.converse_stream(modelId="us.amazon.nova-micro-v1:0", messages=rec.request["messages"])
    events = list(out["stream"])
    recorded = rec.events()
    assert recorded is not None
    assert [next(iter(e)) for e in events] == [ev["headers"][":event-type"] for ev in recorded]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text
    req = fake_upstream.requests[0]
    assert req.path == "/model/us.amazon.nova-micro-v1:0/converse-stream"
    assert req.raw_path == "/model/us.amazon.nova-micro-v1%3A0/converse-stream"
    assert req.json()["messages"] == rec.request["messages"]


def test_openai_sdk_consumes_recorded_stream(fake_upstream: FakeUpstream) -> None:
    openai = pytest.importorskip("openai")
    rec = load_recording("openai/text-stream")
    fake_upstream.reply(Reply.from_recording(rec), path="/v1/chat/completions")
    sdk: Any = openai.OpenAI(base_url=fake_upstream.url + "/v1", api_key="test", max_retries=0, timeout=10.0)
    stream = sdk.chat.completions.create(**rec.request)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "4242" in text.replace(",", "")
    assert fake_upstream.requests[0].headers["authorization"] == "Bearer test"


# -- request capture ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["openai/tool-call-parallel", "anthropic/thinking", "gemini/text-basic"])
def test_recorded_request_bodies_are_captured(
    fake_upstream: FakeUpstream, client: httpx.Client, name: str
) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec))
    resp = _post_recorded(client, name)
    assert resp.status_code == rec.status
    [req] = fake_upstream.requests
    assert req.method == rec.method
    assert req.path == rec.endpoint
    assert req.query == (rec.query or "")
    assert req.json() == rec.request
    assert req.body == resp.request.content
    for header, value in rec.request_headers.items():
        assert req.headers[header] == value


def test_requests_are_recorded_in_order_and_reset_clears(
    fake_upstream: FakeUpstream, client: httpx.Client
) -> None:
    fake_upstream.default = Reply(status=204)
    for i in range(3):
        client.post(f"/n/{i}", content=b"x" * i, headers={"X-Trace": str(i)})
    client.get("/q", params={"a": "1", "b": "two"})
    reqs = fake_upstream.requests
    assert [r.path for r in reqs] == ["/n/0", "/n/1", "/n/2", "/q"]
    assert [r.body for r in reqs[:3]] == [b"", b"x", b"xx"]
    assert reqs[2].headers["x-trace"] == "2"
    assert reqs[3].method == "GET"
    assert reqs[3].query == "a=1&b=two"
    fake_upstream.reply(Reply(status=201))
    fake_upstream.reset()
    assert fake_upstream.requests == []
    assert fake_upstream.pending() == 0
    assert fake_upstream.default is None


def test_chunked_request_body_is_captured(fake_upstream: FakeUpstream, client: httpx.Client) -> None:
    fake_upstream.reply(Reply(status=200))

    def gen() -> Iterator[bytes]:
        yield b'{"a":'
        yield b"1}"

    resp = client.post("/upload", content=gen())
    assert resp.status_code == 200
    [req] = fake_upstream.requests
    assert req.headers["transfer-encoding"] == "chunked"
    assert req.json() == {"a": 1}


# -- scripting and path matching ----------------------------------------------------------------------


def test_path_matching_queue_default_and_unmatched(fake_upstream: FakeUpstream, client: httpx.Client) -> None:
    fake_upstream.reply(Reply.json({"who": "anthropic"}), path="/v1/messages")
    fake_upstream.reply(Reply.json({"who": "bedrock"}), path=r"^/model/[^/]+/converse$", times=2)
    fake_upstream.reply(Reply.json({"who": "any"}))
    assert fake_upstream.pending() == 4

    assert client.post("/model/m1/converse").json() == {"who": "bedrock"}
    assert client.post("/v1/messages").json() == {"who": "anthropic"}
    assert client.post("/v1/messages").json() == {"who": "any"}  # path-specific entry used up
    assert client.post("/model/m2/converse").json() == {"who": "bedrock"}

    missed = client.post("/v1/messages", params={"beta": "true"})
    assert missed.status_code == 500
    assert missed.json() == {"error": "fake upstream: nothing queued for /v1/messages"}

    fake_upstream.default = Reply.json({"who": "default"}, status=202)
    resp = client.post("/model/m3/converse")
    assert (resp.status_code, resp.json()) == (202, {"who": "default"})
    assert fake_upstream.pending() == 0
    assert len(fake_upstream.requests) == 6
    assert [r.path for r in fake_upstream.iter_requests("^/model/")] == [
        "/model/m1/converse",
        "/model/m2/converse",
        "/model/m3/converse",
    ]


def test_exact_path_does_not_match_prefix_or_query(fake_upstream: FakeUpstream, client: httpx.Client) -> None:
    fake_upstream.reply(Reply(status=200, body=b"ok"), path="/v1/chat/completions")
    assert client.post("/v1/chat/completions/extra").status_code == 500
    resp = client.post("/v1/chat/completions", params={"x": "1"})
    assert (resp.status_code, resp.content) == (200, b"ok")


def test_reply_validation() -> None:
    with pytest.raises(ValueError, match="either body or chunks"):
        Reply(body=b"x", chunks=[b"y"])
    with FakeUpstream() as up, pytest.raises(ValueError, match="times"):
        up.reply(Reply(), times=0)


# -- faults -------------------------------------------------------------------------------------------


def test_reset_before_headers_raises_transport_error(
    fake_upstream: FakeUpstream, client: httpx.Client
) -> None:
    fake_upstream.reply(Reply(reset_before_headers=True))
    with pytest.raises(httpx.TransportError):
        client.post("/v1/messages", json={"x": 1})
    assert [r.json() for r in fake_upstream.requests] == [{"x": 1}]
    # The server keeps working for the next request (on a new connection).
    fake_upstream.reply(Reply(status=200, body=b"fine"))
    assert client.post("/v1/messages").content == b"fine"


def _drain(resp: httpx.Response, into: bytearray) -> None:
    for piece in resp.iter_raw():
        into += piece


def test_reset_after_chunks_fails_the_stream_midway(
    fake_upstream: FakeUpstream, client: httpx.Client
) -> None:
    chunks = [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n", b"data: 4\n\n"]
    sse = {"content-type": "text/event-stream"}
    fake_upstream.reply(Reply(headers=sse, chunks=chunks, chunk_delay=0.05, reset_after_chunks=2))
    received = bytearray()
    with client.stream("POST", "/v1/chat/completions") as resp:
        assert resp.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            _drain(resp, received)
    assert bytes(received) == b"".join(chunks[:2])


def test_reset_after_chunks_applies_to_recorded_bedrock_stream(
    fake_upstream: FakeUpstream, client: httpx.Client
) -> None:
    rec = load_recording("bedrock/tool-call-stream")
    full = Reply.from_recording(rec)
    assert full.chunks is not None
    cut = Reply(status=full.status, headers=full.headers, chunks=full.chunks, reset_after_chunks=3)
    fake_upstream.reply(cut)
    received = bytearray()
    with client.stream("POST", rec.target, json=rec.request) as resp, pytest.raises(httpx.TransportError):
        _drain(resp, received)
    assert bytes(received) == b"".join(full.chunks[:3])


def test_stall_delays_headers(fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply(status=200, body=b"late", stall=1.0))
    fake_upstream.reply(Reply(status=200, body=b"slow", stall=0.3))
    with httpx.Client(base_url=fake_upstream.url, timeout=httpx.Timeout(10.0, read=0.2)) as c, \
            pytest.raises(httpx.ReadTimeout):
        c.post("/x")
    with httpx.Client(base_url=fake_upstream.url, timeout=TIMEOUT) as c:
        t0 = time.monotonic()
        resp = c.post("/x")
        assert resp.content == b"slow"
        assert time.monotonic() - t0 >= 0.25


# -- lifecycle ----------------------------------------------------------------------------------------


def test_context_manager_starts_and_stops_bounded() -> None:
    with FakeUpstream() as up:
        host, port = up.address
        assert up.url == f"http://{host}:{port}"
        up.reply(Reply(status=200, body=b"a", stall=30.0))  # in flight while stopping
        up.reply(Reply(chunks=[b"x", b"y"], chunk_delay=30.0))
        with httpx.Client(base_url=up.url, timeout=httpx.Timeout(10.0, read=0.3)) as c:
            with pytest.raises(httpx.ReadTimeout):
                c.get("/stall")
            with c.stream("GET", "/slow") as resp:
                assert resp.status_code == 200
            keep_alive = httpx.Client(base_url=up.url, timeout=TIMEOUT)
            up.default = Reply(status=204)
            assert keep_alive.get("/idle").status_code == 204  # leaves an idle keep-alive connection
        assert up._server is not None
        handlers = list(up._server.connections)  # the stalled, the slow and the idle connection's threads
    # stop() woke the 30 s stall and chunk delay and closed the idle connection: no handler outlived it (a
    # handler it could not wake would still be alive after its bounded joins).
    assert handlers and not any(thread.is_alive() for thread in handlers)
    keep_alive.close()
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), timeout=1.0):
        pass
    assert up.errors == []
