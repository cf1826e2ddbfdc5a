"""Product images in the private images bucket: presigned uploads and reads, and deletion.

The bucket (``IMAGES_BUCKET``, declared in template.yaml) is private and encrypted; nothing in
it is public. Ops upload with a presigned PUT whose signature covers the content type, and
clients read each image through a presigned GET made when the product is shown. Signing is
local computation with the function's credentials: no request to S3 is made for either.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

import boto3
from botocore.config import Config

from commerce.settings import get_settings

#: How long an upload URL may be used.
UPLOAD_SECONDS: Final = 15 * 60
#: How long a read URL stays valid (a product page fetched now shows its images for this long).
READ_SECONDS: Final = 60 * 60


@lru_cache(maxsize=1)
def _s3() -> Any:
    """One client per process; SigV4, as presigned URLs for encrypted buckets need."""
    return boto3.client(
        "s3", region_name=get_settings().region, config=Config(signature_version="s3v4")
    )


def object_key(product_id: str, image_id: str, extension: str) -> str:
    return f"products/{product_id}/{image_id}.{extension}"


def upload_url(key: str, content_type: str) -> str:
    """A presigned PUT of ``key``; the upload must send exactly this ``Content-Type``."""
    url: str = _s3().generate_presigned_url(
        "put_object",
        Params={"Bucket": get_settings().images_bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=UPLOAD_SECONDS,
    )
    return url


def read_url(key: str) -> str:
    """A presigned GET of ``key``."""
    url: str = _s3().generate_presigned_url(
        "get_object",
        Params={"Bucket": get_settings().images_bucket, "Key": key},
        ExpiresIn=READ_SECONDS,
    )
    return url


def delete(key: str) -> None:
    """Remove the object (no error when it was never uploaded)."""
    _s3().delete_object(Bucket=get_settings().images_bucket, Key=key)
