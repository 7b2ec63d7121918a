"""How `sigmawatch serve` configures uvicorn (SEC-1, SEC-5), in process."""

from __future__ import annotations

import functools
import socket
import ssl
import threading
from pathlib import Path

import pytest
import uvicorn

from sigmawatch_inference.http_server import GuardedHttpTools, tls_context, uvicorn_options
from sigmawatch_inference.settings import ServiceSettings
from support.tls import self_signed


def test_the_options_carry_the_timeouts_and_no_banner(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path, header_timeout_s=3, body_timeout_s=7)
    options = uvicorn_options(settings)
    protocol = options["http"]
    assert isinstance(protocol, functools.partial)
    assert protocol.func is GuardedHttpTools
    assert protocol.keywords == {"header_timeout_s": 3, "body_timeout_s": 7}
    assert options["server_header"] is False
    assert "ssl_certfile" not in options
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    with_tls = uvicorn_options(
        settings.model_copy(update={"tls_cert_file": cert, "tls_key_file": key})
    )
    assert (with_tls["ssl_certfile"], with_tls["ssl_keyfile"]) == (str(cert), str(key))
    assert with_tls["ssl_context_factory"] is tls_context


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_the_context_refuses_tls_1_1_even_where_everything_else_allows_it(
    tmp_path: Path,
) -> None:
    """SEC-5: a default context lowered to TLS 1.1 comes back at 1.2: 1.1 handshakes fail."""
    cert, key = self_signed(tmp_path)

    def permissive() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        return context

    server = tls_context(uvicorn.Config(app="unused:app"), permissive)
    assert server.minimum_version is ssl.TLSVersion.TLSv1_2
    client = ssl.create_default_context(cafile=cert)
    client.minimum_version = client.maximum_version = ssl.TLSVersion.TLSv1_1
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    for context, refused in ((permissive(), False), (server, True)):
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(10)

        def accept(context: ssl.SSLContext = context, listener: socket.socket = listener) -> None:
            conn, _ = listener.accept()
            try:
                context.wrap_socket(conn, server_side=True).close()
            except ssl.SSLError:
                conn.close()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                if refused:
                    with pytest.raises(ssl.SSLError):
                        client.wrap_socket(raw, server_hostname="127.0.0.1")
                else:
                    client.wrap_socket(raw, server_hostname="127.0.0.1").close()
        finally:
            thread.join(10)
            listener.close()
