"""s3:// artifact store on any S3-compatible server (boto3).

Failures become `StorageUnavailableError` with the key only: the server's
own message (endpoint, bucket) goes to the log, never to a caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sigmawatch import tracing
from sigmawatch.artifacts.base import ArtifactNotFoundError, Listing, unavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound"}
FAILURES = (BotoCoreError, ClientError)


def _propagate(request: Any, **_: Any) -> None:
    """The trace context on each S3 request made inside a trace (OBS-5). Added after
    signing: an unsigned header leaves the signature valid."""
    for name, value in tracing.inject({}).items():
        request.headers[name] = value


def _missing(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING


class S3Store:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None,
        region: str,
        timeout_s: float = 10.0,
    ) -> None:
        """`timeout_s` bounds the connect and each read (AV-2). A call makes one
        attempt: retrying inside it would stretch the wait past the deadline, and the
        breaker and the callers' retries (STORAGE_UNAVAILABLE is retryable) cover
        transient failures. A write can wait about twice the timeout: botocore waits
        for the server's 100-continue before it sends the body."""
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        config = Config(
            connect_timeout=min(2.0, timeout_s),
            read_timeout=timeout_s,
            retries={"total_max_attempts": 1, "mode": "standard"},
            # S3-compatible servers differ on checksum trailers; send them only when required.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client: S3Client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self.client.meta.events.register("before-send.s3", _propagate)

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        except FAILURES as exc:
            unavailable(self.url, "write", exc, key)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            return response["Body"].read()
        except FAILURES as exc:
            if _missing(exc):
                raise ArtifactNotFoundError(key) from None
            unavailable(self.url, "read", exc, key)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except FAILURES as exc:
            if _missing(exc):
                return False
            unavailable(self.url, "check", exc, key)
        return True

    def list(self, prefix: str) -> list[str]:
        return [key for key, _ in self.list_modified(prefix)]

    def list_modified(self, prefix: str) -> Listing:
        found: Listing = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                found.extend(
                    (item["Key"][len(self.prefix) :], item["LastModified"].timestamp())
                    for item in page.get("Contents", [])
                )
        except FAILURES as exc:
            unavailable(self.url, "listing", exc)
        return sorted(found)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except FAILURES as exc:
            unavailable(self.url, "delete", exc, key)

    def ping(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except FAILURES as exc:
            unavailable(self.url, "bucket check", exc)
