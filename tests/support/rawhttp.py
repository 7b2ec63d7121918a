"""HTTP/1.1 over bare sockets, for what a well-behaved client never sends: half a request."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass
class Answer:
    status: int | None  # None: closed without a byte
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the last byte sent until the server closed

    def error_code(self) -> Any:
        return orjson.loads(self.body)["error"]["code"]


def connect(port: int, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if first:
        sock.sendall(first)
    return sock


def until_closed(sock: socket.socket, *, timeout: float) -> Answer:
    """Everything the server sends until it closes; raises TimeoutError if it never does."""
    started = time.monotonic()
    sock.settimeout(timeout)
    chunks: list[bytes] = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise TimeoutError(f"still open after {timeout} s") from None
    finally:
        sock.close()
    return parse(b"".join(chunks), time.monotonic() - started)


def one_answer(sock: socket.socket, *, timeout: float) -> Answer:
    """One response on a connection that stays open (its body is Content-Length long)."""
    started = time.monotonic()
    sock.settimeout(timeout)
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        raw += chunk
    answer = parse(raw, time.monotonic() - started)
    missing = int(answer.headers.get("content-length", "0")) - len(answer.body)
    while missing > 0:
        chunk = sock.recv(missing)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        missing -= len(chunk)
    return answer


def parse(raw: bytes, seconds: float) -> Answer:
    if not raw:
        return Answer(None, {}, b"", seconds)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body, seconds)


def request_head(method: str, path: str, port: int, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
