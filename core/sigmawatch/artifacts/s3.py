"""s3:// artifact store on any S3-compatible server (boto3).

Failures become `StorageUnavailableError` with the key only: the server's
own message (endpoint, bucket) goes to the log, never to a caller.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NoReturn

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sigmawatch.artifacts.base import ArtifactNotFoundError, StorageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NotFound"}
FAILURES = (BotoCoreError, ClientError)


def _missing(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING


class S3Store:
    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None, region: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        config = Config(
            connect_timeout=2,
            read_timeout=10,
            retries={"max_attempts": 3, "mode": "standard"},
            # S3-compatible servers differ on checksum trailers; send them only when required.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client: S3Client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    def _unavailable(self, action: str, exc: Exception, key: str | None = None) -> NoReturn:
        log.warning(
            "artifact store call failed",
            extra={"action": action, "key": key, "store": self.url, "error": str(exc)},
        )
        details = {"key": key} if key is not None else {}
        raise StorageUnavailableError(f"artifact {action} failed; retry", **details) from exc

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        except FAILURES as exc:
            self._unavailable("write", exc, key)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            return response["Body"].read()
        except FAILURES as exc:
            if _missing(exc):
                raise ArtifactNotFoundError(key) from None
            self._unavailable("read", exc, key)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except FAILURES as exc:
            if _missing(exc):
                return False
            self._unavailable("check", exc, key)
        return True

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        except FAILURES as exc:
            self._unavailable("listing", exc)
        return sorted(keys)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except FAILURES as exc:
            self._unavailable("delete", exc, key)

    def ping(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except FAILURES as exc:
            self._unavailable("bucket check", exc)
