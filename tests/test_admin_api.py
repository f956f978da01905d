"""The management API (/keys, /credits) with LAMBDAROUTER_ADMIN_KEY, in OpenRouter's shapes."""

from __future__ import annotations

import httpx
import pytest

from tests.accounting import GPT4O, HELLO, admin, as_key, new_key
from tests.fakes.upstream import FakeUpstream
from tests.gateway import ADMIN_KEY, RunningGateway


def test_key_lifecycle(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    with admin(gateway) as client:
        created = client.post("/keys", json={
            "name": "team-a", "limit": 25.5, "limit_reset": "weekly", "expires_at": "2099-01-01T00:00:00Z",
            "rate_limit": {"requests": 60, "interval": "1m"}, "allowed_models": ["openai/*"],
            "include_byok_in_limit": True,
        })
        assert created.status_code == 201, created.text
        body = created.json()
        plaintext, data = body["key"], body["data"]
        assert plaintext.startswith("sk-lr-v1-") and plaintext not in str(data)
        assert data["name"] == "team-a" and data["label"].endswith(plaintext[-3:])
        assert (data["limit"], data["limit_remaining"], data["limit_reset"], data["usage"]) == (25.5, 25.5, "weekly",
                                                                                                0)
        assert data["expires_at"] == "2099-01-01T00:00:00Z"
        assert data["rate_limit"]["requests"] == 60 and data["rate_limit"]["interval"] == "1m"
        assert data["allowed_models"] == ["openai/*"] and data["disabled"] is False
        key_hash = data["hash"]

        assert client.get(f"/keys/{key_hash}").json()["data"] == data
        assert key_hash in [k["hash"] for k in client.get("/keys").json()["data"]]
        patched = client.patch(f"/keys/{key_hash}", json={"name": "team-b", "limit": None, "disabled": True,
                                                           "rate_limit": None})
        assert patched.status_code == 200, patched.text
        after = patched.json()["data"]
        assert (after["name"], after["limit"], after["disabled"]) == ("team-b", None, True)
        assert after["rate_limit"]["requests"] == -1 and after["rate_limit"]["interval"] == "1m" and after["updated_at"]
        listed = [k["hash"] for k in client.get("/keys").json()["data"]]
        assert key_hash not in listed  # disabled keys are listed only on request, as OpenRouter does
        assert key_hash in [k["hash"] for k in client.get("/keys", params={"include_disabled": "true"}).json()["data"]]
        assert client.get("/keys", params={"offset": 100000}).json()["data"] == []

        assert client.delete(f"/keys/{key_hash}").json() == {"deleted": True}
        assert client.get(f"/keys/{key_hash}").status_code == 404
        assert client.delete(f"/keys/{key_hash}").status_code == 404
        assert client.patch(f"/keys/{key_hash}", json={"name": "x"}).status_code == 404
    with as_key(gateway, plaintext) as client:
        assert client.post("/chat/completions", json={**GPT4O, "messages": HELLO}).status_code == 401


@pytest.mark.parametrize(("body", "says"), [
    ({}, "name"),
    ({"name": "x", "limit": -1}, "limit"),
    ({"name": "x", "limit_reset": "hourly"}, "limit_reset"),
    ({"name": "x", "rate_limit": {"requests": 0}}, "rate_limit"),
    ({"name": "x", "rate_limit": {"requests": 5, "interval": "soon"}}, "interval"),
    ({"name": "x", "expires_at": "someday"}, "expires_at"),
])
def test_bad_key_bodies_are_400(body: dict[str, object], says: str, gateway: RunningGateway) -> None:
    with admin(gateway) as client:
        response = client.post("/keys", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]


def test_credits_sum_limits_and_usage(gateway: RunningGateway) -> None:
    with admin(gateway) as client:
        before = client.get("/credits").json()["data"]
        new_key(gateway, limit=3)
        new_key(gateway, limit=4.25)
        after = client.get("/credits").json()["data"]
    assert set(after) == {"total_credits", "total_usage"}
    assert after["total_credits"] == pytest.approx(before["total_credits"] + 7.25)
    assert after["total_usage"] == pytest.approx(before["total_usage"])


def test_admin_key_works_only_on_admin_routes(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway)
    with as_key(gateway, plaintext) as client:
        assert client.get("/keys").status_code == 403  # a gateway key, but not the management key
        assert client.get("/credits").status_code == 403
        assert client.delete(f"/keys/{key_hash}").status_code == 403
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        assert client.get("/keys").status_code == 401
        assert client.get("/keys", headers={"authorization": "Bearer not-the-admin-key"}).status_code == 401
    with admin(gateway) as client:
        assert client.post("/chat/completions", json={**GPT4O, "messages": HELLO}).status_code == 401
        assert client.get("/key").status_code == 401
        assert client.get("/generation", params={"id": "gen-1"}).status_code == 401
    assert fake_upstream.requests == []
    assert ADMIN_KEY not in gateway.output()


def test_admin_routes_answer_403_only_to_a_working_gateway_key(gateway: RunningGateway) -> None:
    """401 for any credential that does not work anywhere, even shaped like a gateway key; 403 only for a key that
    would be accepted on the inference routes (docs/decisions.md "Key statuses")."""
    working, _ = new_key(gateway, name="works")
    disabled, disabled_hash = new_key(gateway, name="disabled")
    expired, expired_hash = new_key(gateway, name="expired")
    deleted, deleted_hash = new_key(gateway, name="deleted")
    with admin(gateway) as client:
        assert client.patch(f"/keys/{disabled_hash}", json={"disabled": True}).status_code == 200
        assert client.patch(f"/keys/{expired_hash}", json={"expires_at": "2001-01-01T00:00:00Z"}).status_code == 200
        assert client.delete(f"/keys/{deleted_hash}").status_code == 200
    invalid = {"unknown": "sk-lr-v1-" + "0" * 64, "one char off": working[:-1] + ("0" if working[-1] != "0" else "1"),
               "disabled": disabled, "expired": expired, "deleted": deleted, "not a gateway key": "lr-admin-wrong"}
    for route in ("/keys", "/credits", "/usage", "/generations", "/hosts"):
        with as_key(gateway, working) as client:
            refused = client.get(route)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == 403, (route, refused.text)
        for what, token in invalid.items():
            with as_key(gateway, token) as client:
                refused = client.get(route)
            assert refused.status_code == 401, (route, what, refused.text)
            assert refused.json()["error"] == {**refused.json()["error"], "code": 401,
                                               "message": "Invalid management key."}, (route, what)


def test_both_prefixes_serve_the_control_routes(gateway: RunningGateway) -> None:
    base = gateway.url.removesuffix("/api/v1")
    plaintext, _ = new_key(gateway)
    for prefix in ("/api/v1", "/v1"):
        assert httpx.get(f"{base}{prefix}/credits", headers={"authorization": f"Bearer {ADMIN_KEY}"}).status_code == 200
        assert httpx.get(f"{base}{prefix}/key", headers={"authorization": f"Bearer {plaintext}"}).status_code == 200
