"""Fetching image URLs for byte-only providers: refused for private networks, capped, sniffed."""

from __future__ import annotations

import asyncio
import base64
import ipaddress

import httpx
import pytest

from lambdarouter.core.conversation import ImagePart
from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.gateway.image_fetch import (
    MAX_IMAGE_BYTES,
    fetch_image,
    inline_remote_images,
    is_public,
    sniff_image_type,
)
from tests.fakes.upstream import FakeUpstream, Reply

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def fetch(url: str) -> tuple[bytes, str]:
    async def run() -> tuple[bytes, str]:
        async with httpx.AsyncClient(timeout=5, follow_redirects=False, trust_env=False) as client:
            return await fetch_image(url, client)

    return asyncio.run(run())


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x.png", "http://127.9.9.9:8080/x.png", "http://[::1]/x.png", "http://169.254.169.254/latest",
    "http://10.0.0.5/x.png", "http://192.168.1.1/x.png", "http://172.16.0.1/x.png", "http://localhost/x.png",
    "http://[::ffff:127.0.0.1]/x.png", "http://0.0.0.0/x.png", "ftp://example.com/x.png", "file:///etc/passwd",
    # IPv6 forms of IPv4 addresses and site-local (issue 15): NAT64, 6to4, IPv4-compatible, Teredo, ISATAP
    "http://[64:ff9b::7f00:1]/x.png", "http://[2002:7f00:1::]/x.png", "http://[::7f00:1]/x.png",
    "http://[::a9fe:a9fe]/latest", "http://[fec0::1]/x.png", "http://[64:ff9b:1::a9fe:a9fe]/x.png",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x.png", "http://[2001:4860::5efe:a00:1]/x.png",
    "http://[::ffff:0:a00:1]/x.png", "http://0x7f000001/x.png", "http://2130706433/x.png",
])
def test_private_and_odd_urls_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(GatewayError) as raised:
        fetch(url)
    assert raised.value.status == 400
    assert "cannot be fetched" in raised.value.message


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("2001:4860:4860::8888", True),
    ("100.64.0.1", False), ("::1", False), ("fe80::1", False), ("fc00::1", False), ("ff0e::1", False),
    ("fec0::1", False), ("feff::1", False),  # site-local fec0::/10 (RFC 3879), Python calls it global
    ("::8.8.8.8", False), ("::ffff:8.8.8.8", False), ("::ffff:0:808:808", False),  # compatible, mapped, translated
    ("64:ff9b::808:808", False), ("64:ff9b:1:ffff::808:808", False),  # NAT64 WKP and local-use
    ("2002:808:808::1", False), ("2001:0:808:808::1", False),  # 6to4 and Teredo, public IPv4 inside as well
    ("2606:4700::5efe:a9fe:a9fe", False), ("2606:4700::200:5efe:7f00:1", False),  # ISATAP identifiers
    ("2606:4700::5efd:a9fe:a9fe", True),  # one bit off the ISATAP marker: an ordinary address
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def allow(monkeypatch: pytest.MonkeyPatch, upstream: FakeUpstream) -> str:
    host_port = upstream.url.removeprefix("http://")
    monkeypatch.setenv("LAMBDAROUTER_IMAGE_FETCH_ALLOW", host_port)
    return upstream.url


def test_allowed_host_is_fetched_and_sniffed(monkeypatch: pytest.MonkeyPatch, fake_upstream: FakeUpstream) -> None:
    base = allow(monkeypatch, fake_upstream)
    fake_upstream.reply(Reply(status=200, headers={"content-type": "text/plain"}, body=PNG), path="/logo")
    assert fetch(f"{base}/logo") == (PNG, "image/png")


def test_redirect_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                  fake_upstream: FakeUpstream) -> None:
    base = allow(monkeypatch, fake_upstream)
    fake_upstream.reply(Reply(status=302, headers={"location": "http://169.254.169.254/latest/meta-data"}),
                        path="/hop")
    with pytest.raises(GatewayError, match="private"):
        fetch(f"{base}/hop")


def test_size_cap_and_non_images(monkeypatch: pytest.MonkeyPatch, fake_upstream: FakeUpstream) -> None:
    base = allow(monkeypatch, fake_upstream)
    fake_upstream.reply(Reply(status=200, chunks=[PNG, b"\x00" * MAX_IMAGE_BYTES]), path="/huge")
    with pytest.raises(GatewayError, match="larger than"):
        fetch(f"{base}/huge")
    fake_upstream.reply(Reply(status=200, body=b"<html>not an image</html>"), path="/page")
    with pytest.raises(GatewayError, match="not a PNG"):
        fetch(f"{base}/page")
    fake_upstream.reply(Reply(status=404, body=b"gone"), path="/gone")
    with pytest.raises(GatewayError, match="HTTP 404"):
        fetch(f"{base}/gone")


def test_inline_replaces_only_remote_urls(monkeypatch: pytest.MonkeyPatch, fake_upstream: FakeUpstream) -> None:
    base = allow(monkeypatch, fake_upstream)
    fake_upstream.reply(Reply(status=200, body=PNG), path="/a.png")
    inline = "data:image/gif;base64," + base64.b64encode(b"GIF89a").decode()
    request = to_canonical(ChatCompletionRequest.model_validate({"model": "a/b", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "what?"},
                                     {"type": "image_url", "image_url": {"url": f"{base}/a.png"}},
                                     {"type": "image_url", "image_url": {"url": inline}}]}]}))
    result = asyncio.run(inline_remote_images(request))
    parts = result.messages[1].parts
    assert parts[1] == ImagePart("data:image/png;base64," + base64.b64encode(PNG).decode())
    assert parts[2] == ImagePart(inline)
    assert len(fake_upstream.requests) == 1
    assert request.messages[1].parts[1] == ImagePart(f"{base}/a.png")  # not mutated


def test_sniffing() -> None:
    assert sniff_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_image_type(b"%PDF") is None


def test_provider_native_urls_are_left_to_the_adapter() -> None:
    request = to_canonical(ChatCompletionRequest.model_validate({"model": "a/b", "messages": [{
        "role": "user", "content": [{"type": "image_url", "image_url": {"url": "s3://bucket/cat.png"}},
                                    {"type": "image_url", "image_url": {"url": "gs://bucket/cat.png"}}]}]}))
    assert asyncio.run(inline_remote_images(request)) is request
