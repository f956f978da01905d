"""Fetching http(s) image URLs for providers that only take bytes (Gemini inline data, Bedrock).

The gateway fetches on the client's behalf, so the fetch must not become a way into the gateway's own
network (SSRF): every address a name resolves to must be public, the connection goes to the address that
was checked (no DNS rebinding between check and connect), redirects are re-checked, and size and time are
capped. Hosts in `LAMBDAROUTER_IMAGE_FETCH_ALLOW` (host:port, comma-separated) skip the address check, for
an internal image host or a test server.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx
from msgspec import Struct

from lambdarouter.core import config
from lambdarouter.core.conversation import ChatRequest, image_urls, with_image_urls
from lambdarouter.core.errors import GatewayError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
FETCH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_REDIRECTS = 3

# Magic numbers of the formats every provider takes (https://en.wikipedia.org/wiki/List_of_file_signatures).
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image_type(data: bytes) -> str | None:
    for signature, mime in SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# IPv6 forms that embed or map an IPv4 address: a check of the IPv6 address alone would pass them, and a
# translator, relay or dual-stack socket on the way may deliver them to the IPv4 address inside (127.0.0.1,
# 169.254.169.254, 10.x …). All are refused, whatever address they embed. Prefixes a network picks for itself
# cannot be listed (6rd, RFC 5969; a NAT64 network-specific prefix, RFC 6052 §2.2).
EMBEDDED_IPV4_NETWORKS = tuple(ipaddress.IPv6Network(net) for net in (
    "::/96",  # IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
    "::ffff:0:0/96",  # IPv4-mapped (RFC 4291 §2.5.5.2)
    "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765 §2.1)
    "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052 §2.1)
    "64:ff9b:1::/48",  # NAT64 local-use prefix (RFC 8215)
    "2001::/32",  # Teredo, the client's IPv4 address inside (RFC 4380 §4)
    "2002::/16",  # 6to4 (RFC 3056 §2)
))
# Site-local unicast: deprecated (RFC 3879) but still routed inside some networks; Python's is_global passes it.
SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")
# ISATAP interface identifiers carry an IPv4 address in their low 32 bits under any prefix (RFC 5214 §6.1):
# 0000:5efe or 0200:5efe (the universal/local bit set) in bits 64-95.
ISATAP_MARKERS = frozenset({0x00005EFE, 0x02005EFE})


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an image fetch may connect to `address`: global unicast, and no IPv6 form of an IPv4 address."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if address in SITE_LOCAL or any(address in network for network in EMBEDDED_IPV4_NETWORKS):
        return False
    return (int(address) >> 32) & 0xFFFFFFFF not in ISATAP_MARKERS


def _refused(url: str, why: str) -> GatewayError:
    return GatewayError(400, f"Image URL {url} cannot be fetched: {why}.")


def _allowed_hosts() -> frozenset[str]:
    return config.current().image_fetch_allow


class _Target(Struct, frozen=True):
    url: str  # with the checked IP address in place of the name
    host_header: str
    sni_hostname: str


async def _checked_target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused(url, "only http and https URLs are fetched")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        raise _refused(url, "its host name does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    allowed = f"{parts.hostname}:{port}" in _allowed_hosts()
    if not allowed and not all(is_public(address) for address in addresses):
        raise _refused(url, "it points at a private, loopback, link-local or IPv4-embedding address")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    return _Target(pinned, host_header, parts.hostname)


async def fetch_image(url: str, client: httpx.AsyncClient) -> tuple[bytes, str]:
    """The image's bytes and media type, within the size cap, or a 400 that says why not."""
    for _ in range(MAX_REDIRECTS + 1):
        target = await _checked_target(url)
        request = client.build_request("GET", target.url, headers={"host": target.host_header},
                                       extensions={"sni_hostname": target.sni_hostname})
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _refused(url, f"the download failed ({type(exc).__name__})") from None
        try:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise _refused(url, f"it answered HTTP {response.status_code}")
            data = await _read_capped(response, url)
        finally:
            await response.aclose()
        mime = sniff_image_type(data)
        if mime is None:
            raise _refused(url, "it is not a PNG, JPEG, GIF or WebP image")
        return data, mime
    raise _refused(url, "too many redirects")


async def _read_capped(response: httpx.Response, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        raise _refused(url, f"it is larger than {MAX_IMAGE_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_IMAGE_BYTES:
                raise _refused(url, f"it is larger than {MAX_IMAGE_BYTES} bytes")
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise _refused(url, f"the download failed ({type(exc).__name__})") from None
    return b"".join(chunks)


def remote_image_urls(request: ChatRequest) -> list[str]:
    # Only http(s) is fetched: data: URLs are already bytes, and provider-native schemes (gs:// for Gemini,
    # s3:// for Bedrock) go to the adapter, which takes or refuses them.
    return [url for url in image_urls(request) if url.startswith(("http://", "https://"))]


async def fetch_images(urls: list[str]) -> dict[str, tuple[str, str]]:
    """Each distinct URL's media type and base64 bytes, fetched concurrently (any refusal is the request's 400)."""
    distinct = list(dict.fromkeys(urls))
    if not distinct:
        return {}
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False, trust_env=False) as client:
        fetched = await asyncio.gather(*(fetch_image(url, client) for url in distinct))
    return {url: (mime, base64.b64encode(data).decode()) for url, (data, mime) in zip(distinct, fetched, strict=True)}


async def inline_remote_images(request: ChatRequest) -> ChatRequest:
    """A copy of the request whose http(s) image URLs are replaced by `data:` URLs (fetched concurrently)."""
    fetched = await fetch_images(remote_image_urls(request))
    if not fetched:
        return request
    return with_image_urls(request, {url: f"data:{mime};base64,{data}" for url, (mime, data) in fetched.items()})
