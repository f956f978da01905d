"""`serve`'s limits under faults (issue 15): a stream that would run forever ends at the stream time limit, its hold
outlives it, and no failover or retry runs once the client has gone. A real `lambdarouter serve` with a 5 s stream
limit and retries on, on a fake upstream of this module's own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.accounting import as_key, key_record, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.faults import FALLBACK_CHAT, PRIMARY_CHAT
from tests.gateway import RunningGateway, running_gateway
from tests.openai_chunks import slow_stream
from tests.test_faults import _told_by_stream

STREAM_LIMIT = 5.0
HELLO = [{"role": "user", "content": "hi"}]
BOTH = {"order": ["openai", "groq"], "allow_fallbacks": False}


@pytest.fixture(scope="module")
def gateway(own_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    env = {"LAMBDAROUTER_STREAM_LIMIT": str(STREAM_LIMIT), "LAMBDAROUTER_RETRY_ROUNDS": "3",
           "LAMBDAROUTER_REQUEST_DEADLINE": "60"}
    with running_gateway(tmp_path_factory.mktemp("limits"), own_upstream_server.url, env) as running:
        yield running


def test_a_stream_ends_at_the_time_limit_and_its_hold_outlives_it(gateway: RunningGateway,
                                                                  own_upstream: FakeUpstream) -> None:
    """Expected: an upstream that drips 80 words over 20 s is cut at the 5 s limit: the client gets the words so far,
    a 408 error chunk, the usage chunk and [DONE]; booked `error` at what was produced, as told; the hold set aside
    for it lasts past the limit and one silent read (what a stream may take at most), and is released."""
    plaintext, key_hash = new_key(gateway, limit=1)
    own_upstream.reply(slow_stream(words=80, delay=0.25), path=PRIMARY_CHAT)
    holds = []
    with as_key(gateway, plaintext) as client, client.stream("POST", "/chat/completions", json={
            "model": "resilience/openai-first", "messages": HELLO, "stream": True, "provider": BOTH}) as response:
        pieces = response.iter_bytes()
        text = next(pieces).decode()
        holds = [(hold, time.time()) for hold in key_record(gateway, key_hash).holds]
        text += b"".join(pieces).decode()
    told = _told_by_stream(text)
    assert told.error is not None and told.error["code"] == 408 and "time limit" in told.error["message"], text
    assert 0 < text.count('"content":"w') < 80
    [(hold, seen)] = holds
    assert hold.expires_at - seen > STREAM_LIMIT + float(gateway.env["LAMBDAROUTER_READ_TIMEOUT"])
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.status == "error" and record.cost == told.cost > 0
    key = key_record(gateway, key_hash)
    assert key.holds == () and key.usage == record.cost


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
def test_no_retry_runs_after_the_client_left(streamed: bool, gateway: RunningGateway,
                                             own_upstream: FakeUpstream) -> None:
    """Expected: both hosts answer 503 asking for a retry in 4 s; the client gives up after 1.5 s. The gateway stops
    there: no second round of attempts (it retried for ~6 s before), and the generation is booked `aborted` at $0
    (`error` before), its hold released. (On a machine so busy that the first round outlasts the client, the round
    is cut short too: at most one request per host either way.)"""
    plaintext, key_hash = new_key(gateway, limit=1)
    busy = Reply.json({"error": {"message": "busy"}}, status=503, headers={"retry-after": "4"})
    own_upstream.reply(busy, path=PRIMARY_CHAT, times=3)
    own_upstream.reply(busy, path=FALLBACK_CHAT, times=3)
    with httpx.Client(base_url=gateway.url, timeout=1.5, headers={"authorization": f"Bearer {plaintext}"}) as client, \
            pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json={"model": "resilience/openai-first", "messages": HELLO,
                                                "stream": streamed, "provider": BOTH})
    [record] = wait_for_records(gateway, key_hash, 1)
    assert (record.status, record.cost) == ("aborted", Decimal(0))
    asked = [r.path for r in own_upstream.requests]
    assert asked in ([PRIMARY_CHAT, FALLBACK_CHAT], [PRIMARY_CHAT]), asked
    assert [(a[0], a[1]) for a in record.attempts] == [("openai", 502), ("groq", 502)][:len(record.attempts)]
    assert key_record(gateway, key_hash).holds == ()
