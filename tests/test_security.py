"""Who may call what, against a real `lambdarouter serve`, and what never leaks.

Covered elsewhere and not repeated here (docs/reliability.md lists them): the management key refused on inference
routes and gateway keys on admin routes (tests/test_admin_api.py), disabled and expired keys
(tests/test_accounting.py), CORS closed in process (tests/test_observability.py), image-fetch SSRF
(tests/test_images.py), keys stored hashed (tests/test_no_plaintext_keys.py).
"""

from __future__ import annotations

import hmac
from typing import Any

import httpx
import pytest

from lambdarouter.core.errors import GatewayError
from lambdarouter.gateway.auth import authenticate_key
from tests.accounting import GPT4O, HELLO, admin, as_key, ledger, new_key
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, UPSTREAM_KEY, RunningGateway
from tests.stores import wait

MALFORMED = [
    "", "Bearer", "Basic dXNlcjpwYXNzd29yZA==", "Token sk-lr-v1-abc", "sk-lr-v1-abc",
    "Bearer sk-lr-v1-abc extra words", "Bearer " + "A" * 4000, "Bearer\tsk-lr-v1-abc", "bearer", "Bearer null",
    "Bearer undefined", "Bearer ../../etc/passwd", "Bearer ' OR '1'='1", "Bearer %00",
]
INFERENCE = [("POST", "/chat/completions", {**GPT4O, "messages": HELLO}),
             ("POST", "/completions", {"model": "openai/gpt-4o", "prompt": "hi"}),
             ("POST", "/embeddings", {"model": "openai/text-embedding-3-small", "input": "hi"}),
             ("GET", "/key", None), ("GET", "/generation?id=gen-1", None)]
ADMIN_ROUTES = [("GET", "/keys", None), ("POST", "/keys", {"name": "x"}), ("GET", "/credits", None),
                ("DELETE", "/keys/abc", None)]


def _send(gateway: RunningGateway, method: str, path: str, body: Any, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"authorization": authorization}
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        return client.request(method, gateway.url + path, json=body, headers=headers)


def _refused(response: httpx.Response, statuses: tuple[int, ...] = (401,)) -> None:
    assert response.status_code in statuses, response.text
    error = response.json()["error"]
    assert error["code"] == response.status_code and error["message"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("authorization", [None, *MALFORMED])
def test_missing_or_malformed_authorization_is_refused_everywhere(gateway: RunningGateway,
                                                                  fake_upstream: FakeUpstream,
                                                                  authorization: str | None) -> None:
    for method, path, body in INFERENCE:
        _refused(_send(gateway, method, path, body, authorization))
    for method, path, body in ADMIN_ROUTES:  # none of these is a working gateway key: 401, never 403
        _refused(_send(gateway, method, path, body, authorization))
    assert fake_upstream.requests == []


def test_a_deleted_key_is_refused(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, name="short-lived")
    with as_key(gateway, plaintext) as client:
        assert client.get("/key").status_code == 200
    with admin(gateway) as client:
        assert client.delete(f"/keys/{key_hash}").json() == {"deleted": True}
    for method, path, body in INFERENCE:
        refused = _send(gateway, method, path, body, f"Bearer {plaintext}")
        _refused(refused)
        assert refused.json()["error"]["message"] == "Invalid API key."  # deleted reads as unknown: no oracle
    assert fake_upstream.requests == []


def test_a_key_one_character_off_is_refused(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, _ = new_key(gateway, name="near-miss")
    flipped = plaintext[:-1] + ("a" if plaintext[-1] != "a" else "b")
    for candidate in (flipped, plaintext.upper(), plaintext + "x", plaintext[:-1]):
        _refused(_send(gateway, "POST", "/chat/completions", {**GPT4O, "messages": HELLO}, f"Bearer {candidate}"))
    assert fake_upstream.requests == []


def test_keys_are_compared_in_constant_time(gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both secrets go through hmac.compare_digest: the stored hash of a gateway key (auth.authenticate_key,
    store.same_hash) and the management key (auth.require_admin). No timing measurement: the call is checked."""
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    plaintext, key_hash = new_key(gateway, name="timing")
    monkeypatch.setattr(hmac, "compare_digest", spy)  # store.same_hash and auth.require_admin both use it
    assert wait(authenticate_key(ledger(gateway), f"Bearer {plaintext}", 0)).hash == key_hash
    assert (key_hash.encode(), key_hash.encode()) in compared
    compared.clear()
    from lambdarouter.gateway import auth

    wait(auth.require_admin(_Credentials(), ledger(gateway), f"Bearer {ADMIN_KEY}", 0))
    assert len(compared) == 1
    with pytest.raises(GatewayError):
        wait(auth.require_admin(_Credentials(), ledger(gateway), "Bearer wrong", 0))
    assert len(compared) == 2


class _Credentials:
    def get(self, name: str) -> str | None:
        return ADMIN_KEY if name == "LAMBDAROUTER_ADMIN_KEY" else None


def test_cors_is_closed_by_default_on_the_served_app(gateway: RunningGateway) -> None:
    origin = {"origin": "https://evil.example"}
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        preflight = client.options("/chat/completions", headers={
            **origin, "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type"})
        simple = client.get("/models", headers=origin)
        with_key = client.get("/key", headers={**origin, "authorization": f"Bearer {ADMIN_KEY}"})
    for response in (preflight, simple, with_key):
        assert not any(name.lower().startswith("access-control-") for name in response.headers), response.headers
    assert preflight.status_code in (404, 405)


def test_no_secret_reaches_a_log_line_or_a_client(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """Calls that succeed, fail at the provider (whose error echoes the provider key back) and fail auth;
    then the gateway's whole captured output is scanned for every secret it holds."""
    plaintext, _ = new_key(gateway, name="log-scan")
    fake_upstream.reply(Reply.json({"error": {"message": f"Incorrect API key provided: {UPSTREAM_KEY}",
                                              "type": "invalid_request_error", "code": "invalid_api_key"}},
                                   status=401), path="/v1/chat/completions")
    fake_upstream.reply(Reply.json({"error": {"message": "boom", "type": "server_error"}}, status=500),
                        path="/v1/chat/completions")
    responses = [_send(gateway, "POST", "/chat/completions", {**GPT4O, "messages": HELLO}, f"Bearer {plaintext}")
                 for _ in range(2)]
    responses += [_send(gateway, "GET", "/keys", None, f"Bearer {plaintext}"),
                  _send(gateway, "POST", "/chat/completions", {**GPT4O, "messages": HELLO}, f"Bearer {ADMIN_KEY}"),
                  _send(gateway, "GET", "/key", None, f"Bearer {plaintext}x")]
    assert [r.status_code for r in responses] == [502, 502, 403, 401, 401]
    secrets = {"provider key": UPSTREAM_KEY, "management key": ADMIN_KEY, "gateway key": plaintext,
               "gateway key (near miss)": plaintext + "x", "AWS secret": gateway.env["AWS_SECRET_ACCESS_KEY"]}
    output = gateway.output()
    assert "chat/completions" in output  # the log is really being captured
    for what, secret in secrets.items():
        assert secret not in output, f"the {what} is in the gateway's log"
        assert not any(secret in r.text for r in responses), f"the {what} reached a client"


@pytest.mark.parametrize("stream", [False, True])
def test_a_provider_error_echoing_the_provider_key_does_not_reach_the_client(gateway: RunningGateway,
                                                                             fake_upstream: FakeUpstream,
                                                                             stream: bool) -> None:
    """Fixed in providers/transport/__init__.py (`_redacted`): the credential the request carried is scrubbed from the
    mapped error's message and metadata, streamed or not."""
    plaintext, _ = new_key(gateway, name="echo")
    fake_upstream.reply(Reply.json({"error": {"message": f"Incorrect API key provided: {UPSTREAM_KEY}",
                                              "type": "invalid_request_error", "code": "invalid_api_key"}},
                                   status=401), path="/v1/chat/completions")
    answer = _send(gateway, "POST", "/chat/completions", {**GPT4O, "messages": HELLO, "stream": stream},
                   f"Bearer {plaintext}")
    assert answer.status_code == 502
    assert UPSTREAM_KEY not in answer.text
    assert "Incorrect API key provided: [redacted]" in answer.text  # the rest of the provider's message stays
