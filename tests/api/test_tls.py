"""`sigmawatch serve` terminating HTTPS itself: real handshakes from Python's ssl module (SEC-5).

TLS 1.3 and 1.2 succeed and serve; TLS 1.1 is refused by the service. The
client is shown able to speak TLS 1.1 (to a server of the test's own that
allows it), so the refusal is the service's, not the client's.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.service import Service, ServiceFactory
from support.tls import self_signed

# The client side of the 1.1 attempt has to be allowed to try it.
OLD = pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https(make_service: ServiceFactory, certificate: tuple[Path, Path]) -> Service:
    cert, key = certificate
    env = {"SIGMAWATCH_TLS_CERT_FILE": str(cert), "SIGMAWATCH_TLS_KEY_FILE": str(key)}
    service: Service = make_service("tls", env=env, start=False)
    return service.over_tls(cert).start()


def client_context(cert: Path, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cert)
    context.minimum_version = context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses 1.1 at its default level
    return context


def get_liveness(port: int, context: ssl.SSLContext) -> tuple[str | None, bytes]:
    """(negotiated version, first line of the answer) of GET /liveness over a fresh handshake."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(f"GET /liveness HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        return tls.version(), tls.recv(4096).split(b"\r\n", 1)[0]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_tls_1_3_and_1_2_handshake_and_serve(
    https: Service, certificate: tuple[Path, Path], version: ssl.TLSVersion
) -> None:
    negotiated, status = get_liveness(https.port, client_context(certificate[0], version))
    assert (
        negotiated
        == {ssl.TLSVersion.TLSv1_3: "TLSv1.3", ssl.TLSVersion.TLSv1_2: "TLSv1.2"}[version]
    )
    assert status == b"HTTP/1.1 200 OK"


@pytest.fixture
def tls_1_1_server(certificate: tuple[Path, Path]) -> Iterator[int]:
    """A one-shot server of the test's own that accepts TLS 1.1: the control."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.minimum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def answer_once() -> None:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    thread.join(10)
    listener.close()


@OLD
def test_tls_1_1_is_refused(
    https: Service, certificate: tuple[Path, Path], tls_1_1_server: int
) -> None:
    old = client_context(certificate[0], ssl.TLSVersion.TLSv1_1)
    assert get_liveness(tls_1_1_server, old)[0] == "TLSv1.1"  # the client can speak it
    with pytest.raises(ssl.SSLError):
        get_liveness(https.port, old)
    assert get_liveness(https.port, client_context(certificate[0], ssl.TLSVersion.TLSv1_3))[1]


def test_the_api_over_https_and_nothing_in_clear(https: Service) -> None:
    with https.client() as client:
        assert client.get("/v1/models").status_code == 200
        assert client.get("/readiness").json() == {"status": "ready"}
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{https.port}/v1/models", timeout=5)
