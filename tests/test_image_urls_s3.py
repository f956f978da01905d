"""`response_format: "url"` with an image bucket: each generated image is stored in S3 (moto's server standing
in for it) and answered as a presigned GET URL that serves the image with its content type; the official SDK's
`images.generate` is the client. Without a bucket the answer stays a data URL (test_image_generation.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway, running_gateway

BUCKET = "lambdarouter-images-test"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x01" * 24
PNG = base64.b64encode(PNG_BYTES).decode()


@pytest.fixture(scope="module")
def image_gateway(fake_upstream_server: FakeUpstream, moto_server: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    home: Path = tmp_path_factory.mktemp("images")
    extra = {"LAMBDAROUTER_IMAGE_BUCKET": BUCKET, "LAMBDAROUTER_IMAGE_URL_TTL": "120",
             "AWS_ENDPOINT_URL_S3": moto_server}
    with running_gateway(home, fake_upstream_server.url, extra) as running:
        yield running


def test_url_is_a_presigned_s3_url_serving_the_image(image_gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                     moto_server: str) -> None:
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG}, {"b64_json": PNG}]}),
                        path="/v1/images/generations")
    client = openai.OpenAI(base_url=image_gateway.url, api_key=image_gateway.key, max_retries=0, timeout=15)
    result = client.images.generate(model="openai/gpt-image-1", prompt="a red fox", n=2, response_format="url")
    urls = [d.url or "" for d in result.data or []]
    assert len(urls) == 2 and all(url.startswith(moto_server) for url in urls), urls
    for index, url in enumerate(urls):
        parsed = urlparse(url)
        assert parsed.path.endswith(f"/generated/{result.model_extra['id'] if result.model_extra else ''}/{index}.png")
        assert parse_qs(parsed.query)["X-Amz-Expires"] == ["120"]
        fetched = httpx.get(url, timeout=10)
        assert fetched.status_code == 200 and fetched.content == PNG_BYTES
        assert fetched.headers["content-type"] == "image/png"
    # The objects live under the prefix the IAM grant and the lifecycle rule cover.
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 2 and all(k.startswith("generated/") for k in keys)


def test_b64_json_is_never_stored(image_gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG}]}), path="/v1/images/generations")
    client = openai.OpenAI(base_url=image_gateway.url, api_key=image_gateway.key, max_retries=0, timeout=15)
    result = client.images.generate(model="openai/gpt-image-1", prompt="a fox", response_format="b64_json")
    assert [d.b64_json for d in result.data or []] == [PNG]
