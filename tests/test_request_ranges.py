"""Numbers in an inference request that are out of range, not finite or past int32 are a 400 naming the field,
before anything is reserved or sent upstream. Python's JSON parser takes `NaN` and `Infinity` (JSON has neither);
before these checks `provider.max_price.prompt: NaN` was a 500 any key holder could trigger (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lambdarouter.core.catalog import load_catalog
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import create_app
from lambdarouter.store import KeySettings
from lambdarouter.store.sqlite import SQLiteStore
from tests.fakes.upstream import FakeUpstream
from tests.gateway import EXTRA_MODELS, UPSTREAM_KEY
from tests.stores import all_generations, wait
from tests.test_store_dynamodb_app import Env

HUGE = 10**400
CHAT = '{"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}], %s}'
# (raw JSON fields, the field the 400 names): raw text, because NaN and 10**400 are not what json.dumps writes.
CHAT_CASES = [
    ('"provider": {"max_price": {"prompt": NaN}}', "provider.max_price.prompt"),
    ('"provider": {"max_price": {"completion": Infinity}}', "provider.max_price.completion"),
    ('"provider": {"max_price": {"request": -1}}', "provider.max_price.request"),
    (f'"provider": {{"max_price": {{"image": {HUGE}}}}}', "provider.max_price.image"),
    ('"temperature": NaN', "temperature"),
    ('"top_p": -Infinity', "top_p"),
    ('"logit_bias": {"50256": NaN}', "logit_bias.50256"),
    ('"logit_bias": {"50256": 101}', "logit_bias.50256"),
    (f'"max_tokens": {HUGE}', "max_tokens"),
    ('"max_tokens": 2147483648', "max_tokens"),
    ('"max_tokens": 1e400', "max_tokens"),
    (f'"max_completion_tokens": {2**63}', "max_completion_tokens"),
    (f'"reasoning": {{"max_tokens": {HUGE}}}', "reasoning.max_tokens"),
    (f'"top_k": {HUGE}', "top_k"),
    ('"repetition_penalty": NaN', "repetition_penalty"),
]


@pytest.fixture
def client(tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "ranges.sqlite3")
    plaintext, _ = wait(store.create_key("ranges", KeySettings("ranges", limit=Decimal(5))))
    credentials = Env({"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": f"{fake_upstream.url}/v1"})
    app = create_app(gateway=Gateway(load_catalog(EXTRA_MODELS), store, credentials))
    with TestClient(app, base_url="http://testserver/api/v1", raise_server_exceptions=False,
                    headers={"authorization": f"Bearer {plaintext}", "content-type": "application/json"}) as c:
        yield c
    assert fake_upstream.requests == []  # refused before any upstream call
    assert wait(all_generations(store)) == []  # and before a generation began: nothing to book


def _refused(response_text: str, status: int, field: str) -> None:
    assert status == 400, response_text
    error = json.loads(response_text)["error"]
    assert error["code"] == 400 and error["message"].startswith(f"Invalid request: {field}:"), error


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("fields", "field"), CHAT_CASES)
def test_chat_numbers_out_of_range_are_a_400(fields: str, field: str, stream: bool, client: TestClient) -> None:
    response = client.post("/chat/completions", content=CHAT % f'{fields}, "stream": {json.dumps(stream)}')
    _refused(response.text, response.status_code, field)


@pytest.mark.parametrize(("route", "body", "field"), [
    ("/completions", f'{{"model": "openai/gpt-4o", "prompt": "hi", "max_tokens": {HUGE}}}', "max_tokens"),
    ("/completions", '{"model": "openai/gpt-4o", "prompt": "hi", "provider": {"max_price": {"prompt": NaN}}}',
     "provider.max_price.prompt"),
    ("/embeddings", f'{{"model": "openai/text-embedding-3-small", "input": "hi", "dimensions": {HUGE}}}',
     "dimensions"),
    ("/images/generations", '{"model": "openai/gpt-image-1", "prompt": "a cat", '
                            '"provider": {"max_price": {"image": NaN}}}', "provider.max_price.image"),
])
def test_other_routes_refuse_the_same_numbers(route: str, body: str, field: str, client: TestClient) -> None:
    response = client.post(route, content=body)
    _refused(response.text, response.status_code, field)


@pytest.mark.parametrize("query", ["min_price=NaN", "max_output_price=sNaN", "context=NaN", "limit=NaN",
                                   "offset=1e999999999", "limit=1e-9999", "offset=2.5"])
def test_model_listing_numbers_that_are_not_finite_or_in_range_are_a_400(query: str) -> None:
    """GET /models takes no key: a NaN compared in a filter was a 500 anyone could trigger, and an offset of
    1e999999999 was turned into a billion-digit integer before its range was checked."""
    with TestClient(create_app(["models"]), base_url="http://testserver/api/v1",
                    raise_server_exceptions=False) as client:
        response = client.get(f"/models?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["metadata"]["param"] == query.split("=")[0]
