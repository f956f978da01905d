"""Generated images in S3 behind presigned GET URLs, for `response_format: "url"` when a bucket is configured.

With `LAMBDAROUTER_IMAGE_BUCKET` set (the template sets it on AWS), each image is stored under `generated/`
with its content type and answered as a presigned GET URL valid for `LAMBDAROUTER_IMAGE_URL_TTL` seconds
(default one hour; SigV4 presigned URLs live at most 7 days:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html). Without a bucket the
answer is a `data:` URL, as before. boto3 is imported on first use and its client created once per process,
so the routes that never store an image (and local runs) do not pay its import at cold start.
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any

from lambdarouter.core import config
from lambdarouter.providers.images import GeneratedImage

logger = logging.getLogger(__name__)

BUCKET_ENV = "LAMBDAROUTER_IMAGE_BUCKET"
TTL_ENV = "LAMBDAROUTER_IMAGE_URL_TTL"
PREFIX = "generated/"  # the template's IAM grant and lifecycle rule cover exactly this prefix
DEFAULT_TTL = 3600
MAX_TTL = 7 * 24 * 3600
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

_client: Any = None
_lock = threading.Lock()


def bucket() -> str | None:
    return config.current().image_bucket


def url_ttl() -> int:
    """Seconds a presigned URL stays valid: the configured value within 1 s..7 days, else the default."""
    raw = config.current().image_url_ttl
    if raw.isdigit() and 1 <= int(raw) <= MAX_TTL:
        return int(raw)
    if raw:
        logger.warning("%s=%r is not a number of seconds between 1 and %d; using %d", TTL_ENV, raw, MAX_TTL,
                       DEFAULT_TTL)
    return DEFAULT_TTL


def _s3() -> Any:
    global _client
    with _lock:
        if _client is None:
            # Deferred: ~80 ms of import only the image route needs. SigV4 presigning: every Region takes it
            # (SigV2 is refused by the Regions launched since 2014).
            from botocore.config import Config

            from lambdarouter.core.aws import aws_session

            _client = aws_session().client("s3", config=Config(signature_version="s3v4"))
        return _client


def data_url(image: GeneratedImage) -> str:
    return f"data:{image.mime};base64,{image.b64}"


def publish(name: str, images: list[GeneratedImage]) -> list[str]:
    """Each image stored as `generated/<name>/<i>.<ext>` and its presigned GET URL; blocking (run in a thread).

    The images are already paid for when this runs: if S3 fails, the client still gets them as data URLs
    (and the failure is logged) rather than an error for something it was charged for.
    """
    target = bucket()
    if target is None:
        return [data_url(image) for image in images]
    urls: list[str] = []
    ttl = url_ttl()
    for index, image in enumerate(images):
        key = f"{PREFIX}{name}/{index}.{EXTENSIONS.get(image.mime, 'bin')}"
        try:
            s3 = _s3()
            s3.put_object(Bucket=target, Key=key, Body=base64.b64decode(image.b64), ContentType=image.mime)
            urls.append(s3.generate_presigned_url("get_object", Params={"Bucket": target, "Key": key},
                                                  ExpiresIn=ttl))
        except Exception:
            logger.warning("storing generated image %s in s3://%s failed; answering a data URL", key, target,
                           exc_info=True)
            urls.append(data_url(image))
    return urls
