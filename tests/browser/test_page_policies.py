"""/plot and /docs under their Content-Security-Policy, in headless Chromium (SEC-1).

The pages must work with nothing but their own scripts (the docs page's one
inline script by its hash), report no policy violation, still call the API
(Swagger UI's "Try it out"), and refuse to be framed by another page.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from support.data import train_body
from support.service import Service, ServiceFactory

# Records every violation the page reports, from before its first script runs.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture(scope="module")
def pages(make_service: ServiceFactory) -> Service:
    service: Service = make_service("page-policies")
    with service.client() as client:
        assert client.post("/v1/series/framed/train", json=train_body()).status_code == 201
    return service


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto(url)
    return page, console


def test_the_plot_draws_under_its_policy(browser: Any, pages: Service) -> None:
    page, console = open_page(browser, f"{pages.url}/plot?series_id=framed")
    page.wait_for_selector("body[data-chart-ready=true]")
    assert page.locator("circle.anomaly").count() >= 0
    assert page.evaluate("window.__violations") == []
    assert not [m for m in console if "Content Security Policy" in m], console
    page.close()


def test_the_api_docs_work_under_their_policy(browser: Any, pages: Service) -> None:
    page, console = open_page(browser, f"{pages.url}/docs")
    page.wait_for_selector(".opblock-summary-path")
    # "Try it out" on GET /v1/models: Swagger UI calls the API from the page.
    page.locator(".opblock-get .opblock-summary-path", has_text="/v1/models").first.click()
    page.locator("button.try-out__btn").first.click()
    page.locator("button.execute").first.click()
    status = page.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert page.evaluate("window.__violations") == []
    assert not [m for m in console if "Content Security Policy" in m], console
    page.close()


@pytest.fixture
def attacker(pages: Service) -> Iterator[str]:
    """Another origin on this machine whose page frames the service's pages."""

    class Framing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f'<iframe src="{pages.url}{self.path}"></iframe>'.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Framing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.mark.parametrize("path", ["/docs", "/plot?series_id=framed"])
def test_the_pages_refuse_to_be_framed(browser: Any, attacker: str, path: str) -> None:
    """Clickjacking: another page that frames them gets nothing (frame-ancestors 'none')."""
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(attacker + path)
    page.wait_for_timeout(1500)
    framed = page.frames[1]  # Chromium's error page in place of the service's
    assert framed.evaluate("document.querySelector('#swagger-ui, #plot-data')") is None
    assert any("frame-ancestors" in m or "X-Frame-Options" in m for m in refused), refused
    page.close()
