"""GET /models filters as OpenRouter's document lists them: q, input_modalities, supported_parameters,
model_authors, context, prices, limit / offset; a bad value is a 400 naming the parameter."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway import RunningGateway


def listed(gateway: RunningGateway, **query: Any) -> list[dict[str, Any]]:
    answer = httpx.get(f"{gateway.url}/models", params=query, timeout=15)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def test_each_filter_keeps_what_matches(gateway: RunningGateway) -> None:
    every = listed(gateway)
    assert {m["id"] for m in listed(gateway, q="CLAUDE")} == {m["id"] for m in every if "claude" in (
        m["id"] + m["canonical_slug"] + m["name"] + m["description"]).lower()}
    assert all({"image", "file"} <= set(m["architecture"]["input_modalities"])
               for m in listed(gateway, input_modalities="image,file"))
    assert all({"tools", "seed"} <= set(m["supported_parameters"])
               for m in listed(gateway, supported_parameters="tools,seed"))
    by_authors = listed(gateway, model_authors="openai,Anthropic")
    assert by_authors and {m["id"].split("/")[0] for m in by_authors} == {"openai", "anthropic"}
    assert all(m["context_length"] >= 1_000_000 for m in listed(gateway, context=1_000_000))
    cheap = listed(gateway, max_price=1, min_output_price=0.5)
    assert cheap and all(float(m["pricing"]["prompt"]) * 1e6 <= 1 and float(m["pricing"]["completion"]) * 1e6 >= 0.5
                         for m in cheap)


def test_limit_and_offset_page_the_list(gateway: RunningGateway) -> None:
    every = listed(gateway)
    assert [m["id"] for m in listed(gateway, limit=3, offset=2)] == [m["id"] for m in every[2:5]]
    assert len(listed(gateway, offset=0)) == min(len(every), 500)
    page = httpx.get(f"{gateway.url}/models", params={"q": "claude", "limit": 1}, timeout=15).json()
    assert len(page["data"]) == 1  # a page of one, and how many the filter kept (OpenRouter's total_count)
    assert page["total_count"] == len(listed(gateway, q="claude")) > 1


def test_a_bad_filter_value_is_a_400_naming_it(gateway: RunningGateway) -> None:
    for query, param in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"context": "lots"}, "context"),
                         ({"max_price": "-1"}, "max_price")):
        answer = httpx.get(f"{gateway.url}/models", params=query, timeout=15)
        assert answer.status_code == 400 and answer.json()["error"]["metadata"]["param"] == param, answer.text
