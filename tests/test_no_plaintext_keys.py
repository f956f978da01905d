"""Keys are shown once: after that no plaintext key (nor the provider's or the management key) appears in
the store file, the server's log, any error body or any CLI output."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.accounting import GPT4O, HELLO, admin, as_key, completion_body, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, UPSTREAM_KEY, cli, running_gateway
from tests.test_chat_api import spaced_stream

UPSTREAM_PATH = "/v1/chat/completions"


def test_no_plaintext_key_anywhere(tmp_path: Path, fake_upstream: FakeUpstream) -> None:
    bodies: list[str] = []
    outputs: list[str] = []
    with running_gateway(tmp_path, fake_upstream.url) as gateway:
        plaintexts = [gateway.key]
        created = json.loads(cli(["keys", "create", "--name", "cli", "--limit", "0.00001", "--json"], gateway.env))
        outputs.append(json.dumps(created["data"]))
        cheap = created["key"]
        plaintexts.append(cheap)
        limited, limited_hash = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
        doomed, doomed_hash = new_key(gateway)
        plaintexts += [limited, doomed]

        with as_key(gateway, gateway.key) as client:
            fake_upstream.reply(Reply.json(completion_body(5, 6)), path=UPSTREAM_PATH)
            assert client.post("/chat/completions", json={**GPT4O, "messages": HELLO}).is_success
            fake_upstream.reply(spaced_stream(["a ", "b"], 0.01), path=UPSTREAM_PATH)
            streamed = client.post("/chat/completions", json={**GPT4O, "messages": HELLO,
                                                              "stream": True})
            assert streamed.is_success
            fake_upstream.reply(Reply.json({"error": {"message": "boom"}}, status=500), path=UPSTREAM_PATH)
            bodies.append(client.post("/chat/completions", json={**GPT4O, "messages": HELLO}).text)
            bodies.append(client.post("/chat/completions", content=b"{not json").text)
            bodies.append(client.get("/keys").text)  # a gateway key on an admin route
            bodies.append(client.get("/generation", params={"id": "gen-nope"}).text)
            bodies.append(client.get("/key").text)
        with as_key(gateway, cheap) as client:
            bodies.append(client.post("/chat/completions", json={**GPT4O, "messages": HELLO}).text)
        with as_key(gateway, limited) as client:
            fake_upstream.reply(Reply.json(completion_body(5, 6)), path=UPSTREAM_PATH)
            client.post("/chat/completions", json={**GPT4O, "messages": HELLO})
            bodies.append(client.post("/chat/completions", json={**GPT4O, "messages": HELLO}).text)
        with admin(gateway) as client:
            client.patch(f"/keys/{doomed_hash}", json={"disabled": True}).raise_for_status()
            bodies.append(client.get("/keys", params={"include_disabled": "true"}).text)
            bodies.append(client.get(f"/keys/{limited_hash}").text)
        for wrong in (doomed, gateway.key + "x", gateway.key[:-1]):
            bodies.append(httpx.post(f"{gateway.url}/chat/completions", json={"model": "openai/gpt-4o",
                                                                               "messages": HELLO},
                                     headers={"authorization": f"Bearer {wrong}"}, timeout=10).text)
        outputs += [cli(["keys", "list", "--json"], gateway.env), cli(["usage", "--json"], gateway.env),
                    cli(["usage", "--by", "model"], gateway.env), cli(["keys", "show", limited_hash], gateway.env)]
        wait_for_records(gateway, limited_hash, 1)
        log = gateway.output()

    assert len(bodies) == 12 and all(b for b in bodies)
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("gateway.sqlite3*")).decode("latin-1")
    assert "gen-" in stored and limited_hash in stored  # the scan looks at real content
    for secret in [*plaintexts, UPSTREAM_KEY, ADMIN_KEY]:
        for where, text in [("store", stored), ("log", log), *(("body", b) for b in bodies),
                            *(("cli", o) for o in outputs)]:
            assert secret not in text, (where, text[:300])
    for plaintext in plaintexts:  # nor the random part alone
        random_part = plaintext.removeprefix("sk-lr-v1-")
        assert all(random_part not in text for text in (stored, log, *bodies, *outputs))
