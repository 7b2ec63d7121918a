"""A real S3-compatible server (versitygw, Apache-2.0) on loopback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from support.procs import ManagedProcess, clean_env, free_port
from support.testbin import binary

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "sigmawatch-test"
SECRET_KEY = "sigmawatch-test-secret"


@dataclass
class S3Server:
    endpoint: str
    process: ManagedProcess

    @property
    def env(self) -> dict[str, str]:
        """Environment a client process needs to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "SIGMAWATCH_S3_ENDPOINT_URL": self.endpoint,
        }

    def client(self) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(request_checksum_calculation="when_required"),
        )

    def new_bucket(self) -> str:
        name = f"sw-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name


def start_s3(root: Path, log_dir: Path) -> S3Server:
    exe = binary("s3", "versitygw", "S3")
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        "versitygw",
        [str(exe), "--port", f"127.0.0.1:{port}", "posix", str(root)],
        clean_env({"ROOT_ACCESS_KEY": ACCESS_KEY, "ROOT_SECRET_KEY": SECRET_KEY}),
        log_dir,
    ).start()
    server = S3Server(f"http://127.0.0.1:{port}", process)
    process.wait_until(
        lambda: bool(server.client().list_buckets() is not None), timeout=30, what="versitygw"
    )
    return server
