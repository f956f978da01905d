"""Google Vertex AI: Gemini and Claude through one more provider family, on fakes speaking Vertex's wire format.

A real `lambdarouter serve` process holds a service account key (generated here) in VERTEX_SERVICE_ACCOUNT,
signs a JWT with it and exchanges it at the key's token_uri (the fake upstream) for an access token, then
calls Vertex's regional URL layout with it: Gemini through `publishers/google` (the Gemini API's body and
answers), Claude through `publishers/anthropic` (Anthropic's body with Vertex's `anthropic_version`), each
with the same model profile as its direct host. Replies are the provider recordings (tests/recordings),
whose bodies Vertex sends as they are: Vertex's Gemini answers are GenerateContentResponse, its Claude
answers Anthropic's Message and stream.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import openai
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from openai.types.chat import ChatCompletionMessageParam

from lambdarouter.core.errors import GatewayError
from lambdarouter.providers.vertex import auth
from lambdarouter.providers.vertex.family import endpoint_base
from tests.anthropic_cases import assert_valid_anthropic_request
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway, running_gateway
from tests.gemini_cases import validate_with_sdk

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode()
EMAIL = "gateway@test-project.iam.gserviceaccount.com"
TOKEN = "ya29.vertex-access-token"
BASE = "/vertex/v1/projects/test-project/locations/us-east5/publishers"
GEMINI_PATH = f"{BASE}/google/models/gemini-2.5-flash"
CLAUDE_PATH = f"{BASE}/anthropic/models/claude-sonnet-4-5@20250929"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello."}]


def key_file(token_uri: str) -> str:
    return json.dumps({"type": "service_account", "project_id": "test-project", "private_key_id": "k1",
                       "private_key": PEM, "client_email": EMAIL, "token_uri": token_uri})


@pytest.fixture(scope="module")
def vertex(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    url = fake_upstream_server.url
    env = {"VERTEX_SERVICE_ACCOUNT": key_file(f"{url}/token"), "VERTEX_BASE_URL": f"{url}/vertex/v1",
           "VERTEX_LOCATION": "us-east5"}
    with running_gateway(tmp_path_factory.mktemp("vertex"), url, env) as running:
        yield running


@pytest.fixture
def client(vertex: RunningGateway, fake_upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=vertex.url, api_key=vertex.key, max_retries=0, timeout=15)


def _only_vertex() -> dict[str, Any]:
    return {"provider": {"only": ["google-vertex"]}}


def _token_reply(fake: FakeUpstream) -> None:
    fake.reply(Reply.json({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}), path="/token")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_gemini_through_vertex_with_an_exchanged_token(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """The first call exchanges a signed JWT for a token; later calls reuse it."""
    _token_reply(fake_upstream)
    fake_upstream.reply(Reply.from_recording(load_recording("gemini/text-basic")),
                        path=f"{GEMINI_PATH}:generateContent")
    fake_upstream.reply(Reply.from_recording(load_recording("gemini/text-stream")),
                        path=f"{GEMINI_PATH}:streamGenerateContent")
    answer = client.chat.completions.create(model="google/gemini-2.5-flash", messages=HELLO,
                                            extra_body=_only_vertex())
    assert answer.choices[0].message.content and answer.model_dump()["provider"] == "Google Vertex"
    chunks = list(client.chat.completions.create(model="google/gemini-2.5-flash", messages=HELLO,
                                                 stream=True, extra_body=_only_vertex()))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    token_requests = list(fake_upstream.iter_requests("/token"))
    assert len(token_requests) == 1  # one exchange for both calls
    form = parse_qs(token_requests[0].body.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    header, claims, signature = form["assertion"][0].split(".")
    KEY.public_key().verify(_b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(),
                            hashes.SHA256())  # raises unless the gateway signed with the service account's key
    assert json.loads(_b64decode(header)) == {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    issued = json.loads(_b64decode(claims))
    assert (issued["iss"], issued["aud"], issued["scope"]) == (EMAIL, f"{fake_upstream.url}/token", auth.SCOPE)
    assert issued["exp"] - issued["iat"] == 3600

    whole, streamed = (r for r in fake_upstream.requests if r.path.startswith(GEMINI_PATH))
    assert streamed.query == "alt=sse"
    for sent in (whole, streamed):
        assert sent.headers["authorization"] == f"Bearer {TOKEN}"
        assert "x-goog-api-key" not in sent.headers
        validate_with_sdk(sent.json())  # the Gemini API's own body
        assert sent.json()["contents"] == [{"role": "user", "parts": [{"text": "Say hello."}]}]


def test_claude_through_vertex_gets_the_claude_profile(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.from_recording(load_recording("anthropic/text-basic")),
                        path=f"{CLAUDE_PATH}:rawPredict")
    fake_upstream.reply(Reply.from_recording(load_recording("anthropic/text-stream")),
                        path=f"{CLAUDE_PATH}:streamRawPredict")
    extra = {**_only_vertex(), "reasoning": {"max_tokens": 2048}}
    answer = client.chat.completions.create(model="anthropic/claude-sonnet-4.5", messages=HELLO,
                                            max_tokens=4096, extra_body=extra)
    assert answer.choices[0].message.content and answer.model_dump()["provider"] == "Google Vertex"
    chunks = list(client.chat.completions.create(model="anthropic/claude-sonnet-4.5", messages=HELLO,
                                                 stream=True, extra_body=_only_vertex()))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    whole, streamed = (r for r in fake_upstream.requests if r.path.startswith(CLAUDE_PATH))
    body = whole.json()
    assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}  # as through Anthropic's API
    assert_valid_anthropic_request({k: v for k, v in body.items() if k != "anthropic_version"}
                                   | {"model": "claude-sonnet-4-5"})
    assert streamed.json()["stream"] is True
    for sent in (whole, streamed):
        assert sent.headers["authorization"] == f"Bearer {TOKEN}"
        assert "x-api-key" not in sent.headers and "anthropic-version" not in sent.headers


def test_errors_are_read_in_the_form_vertex_sends_them(vertex: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """Vertex's own refusals are google.rpc.Status bodies; Claude's own failures keep Anthropic's body."""
    quota = load_recording("gemini/error-429-resource-exhausted")
    fake_upstream.reply(Reply.from_recording(quota), path=f"{CLAUDE_PATH}:rawPredict")
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    fake_upstream.reply(Reply.json(overloaded, status=529), path=f"{GEMINI_PATH}:generateContent")
    with httpx.Client(base_url=vertex.url, timeout=15, headers={"authorization": f"Bearer {vertex.key}"}) as http:
        limited = http.post("/chat/completions", json={"model": "anthropic/claude-sonnet-4.5", "messages": HELLO,
                                                       **_only_vertex()})
        busy = http.post("/chat/completions", json={"model": "google/gemini-2.5-flash", "messages": HELLO,
                                                    **_only_vertex()})
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["metadata"]["provider_name"] == "google-vertex"
    assert busy.status_code == 502 and "Overloaded" in busy.json()["error"]["message"]


def test_url_layout_by_location() -> None:
    assert endpoint_base("global") == "https://aiplatform.googleapis.com/v1"
    assert endpoint_base("us") == "https://aiplatform.us.rep.googleapis.com/v1"
    assert endpoint_base("europe-west1") == "https://europe-west1-aiplatform.googleapis.com/v1"


class TokenEndpoint:
    """The OAuth token endpoint, as the transport lends it to the authorizer: one scripted answer per call."""

    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, request: Any) -> tuple[int, bytes]:
        self.calls += 1
        status, body = self.answers.pop(0)
        return status, json.dumps(body).encode()


def _account(token_uri: str) -> auth.ServiceAccount:
    return auth.service_account(key_file(token_uri), "google-vertex")


def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    account = _account("https://token.example/one")
    endpoint = TokenEndpoint((200, {"access_token": "t1", "expires_in": 3599}),
                             (200, {"access_token": "t2", "expires_in": 200}), (200, {"access_token": "t3"}))
    authorize = auth.authorizer(account, "google-vertex")
    assert asyncio.run(authorize(endpoint)) == {"authorization": "Bearer t1"}
    assert asyncio.run(authorize(endpoint)) == {"authorization": "Bearer t1"} and endpoint.calls == 1
    auth._tokens.clear()
    # A token living less than the refresh margin is used once, then replaced.
    assert asyncio.run(authorize(endpoint)) == {"authorization": "Bearer t2"}
    assert asyncio.run(authorize(endpoint)) == {"authorization": "Bearer t3"} and endpoint.calls == 3


def test_a_refused_exchange_is_a_502_that_names_the_host_and_no_secret() -> None:
    account = _account("https://token.example/two")
    endpoint = TokenEndpoint((400, {"error": "invalid_grant", "error_description": "Invalid JWT: eyJhbGciOi..."}))
    with pytest.raises(GatewayError) as refused:
        asyncio.run(auth.authorizer(account, "google-vertex")(endpoint))
    error = refused.value
    assert (error.status, error.retryable, error.transient) == (502, True, False)
    assert "invalid_grant" in error.message and "eyJ" not in error.message and "eyJ" not in str(error.metadata)


@pytest.mark.parametrize(("raw", "why"), [("not json", "is not JSON"), ('{"client_email": "a@b"}', "no client_email"),
                                          ("[]", "not a JSON object")])
def test_an_unusable_key_is_a_503_that_does_not_quote_it(raw: str, why: str) -> None:
    with pytest.raises(GatewayError) as refused:
        auth.service_account(raw, "google-vertex")
    assert refused.value.status == 503 and why in refused.value.message and raw not in refused.value.message


def test_the_key_is_never_printed(tmp_path: Path) -> None:
    account = _account("https://token.example/three")
    assert "PRIVATE KEY" not in repr(account) and "PRIVATE KEY" not in str([account])
