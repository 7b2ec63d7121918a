"""GET /plot in headless Chromium (MOD-5, USE-1): the chart's elements, offline, responsive."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from support.data import series_data
from support.service import Service, ServiceFactory


@pytest.fixture(scope="module")
def plotted(make_service: ServiceFactory) -> tuple[Service, dict[str, Any]]:
    service: Service = make_service("plot")
    timestamps, values = series_data(12_000, seed=11)
    spikes = [11_500, 11_700, 11_900]
    values[spikes] += np.array([25.0, -25.0, 30.0])
    with service.client() as client:
        client.post(
            "/v1/series/plot_me/train",
            json={"timestamps": timestamps.tolist(), "values": values.tolist()},
        )
        trained = client.post(
            "/v1/series/plot_me/train",
            json={
                "timestamps": timestamps.tolist(),
                "values": values.tolist(),
                "detector": {"kind": "mad"},
            },
        ).json()
    low_high = trained["stats"]
    kept = values[-5_000:]
    return service, {"kept": kept, "spikes": spikes, "stats": low_high}


@pytest.mark.parametrize(("name", "viewport"), [("desktop", (1280, 800)), ("mobile", (375, 740))])
def test_plot_draws_points_mean_band_and_flagged_points(
    browser: Any,
    plotted: tuple[Service, dict[str, Any]],
    artifacts_dir: Path,
    name: str,
    viewport: tuple[int, int],
) -> None:
    service, expected = plotted
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{service.url}/plot?series_id=plot_me&version=v1")
    page.wait_for_selector("body[data-chart-ready=true]")

    data = page.evaluate("JSON.parse(document.getElementById('plot-data').textContent)")
    assert data["version"] == "v1"
    assert data["detector"]["kind"] == "zscore"
    assert len(data["values"]) == 5_000
    lo, hi = data["band"]
    outside = int(((expected["kept"] < lo) | (expected["kept"] > hi)).sum())
    assert outside >= len(expected["spikes"])

    assert page.locator("#chart-svg").count() == 1
    assert len(page.get_attribute("#series-line", "d") or "") > 1000
    assert float(page.get_attribute("#band", "height") or 0) > 0
    mean_y = float(page.get_attribute("#mean-line", "y1") or -1)
    band_y, band_h = (float(page.get_attribute("#band", a) or 0) for a in ("y", "height"))
    assert band_y < mean_y < band_y + band_h  # the mean sits inside the band
    assert page.locator("circle.anomaly").count() == outside
    assert page.inner_text("#anomaly-count") == str(outside)

    links = page.locator("a.version-link")
    assert links.count() == 2
    assert links.nth(1).get_attribute("href") == "/plot?series_id=plot_me&version=v2"
    assert "★" in links.nth(1).inner_text()  # v2 is production

    # Readable: the mean is drawn over the points, time labels do not overlap.
    assert page.evaluate(
        "!!(document.getElementById('series-line').compareDocumentPosition("
        "document.getElementById('mean-line')) & Node.DOCUMENT_POSITION_FOLLOWING)"
    )
    boxes = page.evaluate(
        "[...document.querySelectorAll('#chart .x-tick')]"
        ".map(t => { const b = t.getBBox(); return [b.x, b.x + b.width]; })"
    )
    assert len(boxes) >= 3
    boxes.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(boxes)), boxes
    # Responsive: the chart fits the viewport, nothing scrolls sideways.
    width = page.evaluate("document.getElementById('chart-svg').getBoundingClientRect().width")
    assert width <= viewport[0]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Offline: every request went to the service itself, no CDN.
    assert requested
    assert all(url.startswith(service.url) for url in requested)

    page.screenshot(path=str(artifacts_dir / f"plot-{name}.png"), full_page=True)
    page.close()


def test_plot_follows_links_and_redraws_on_resize(
    browser: Any, plotted: tuple[Service, dict[str, Any]]
) -> None:
    service, _ = plotted
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(f"{service.url}/plot?series_id=plot_me")
    page.wait_for_selector("body[data-chart-ready=true]")
    assert page.inner_text("h1 .version") == "v2"  # production by default
    assert "mad" in page.inner_text(".summary")
    page.set_viewport_size({"width": 500, "height": 700})
    page.wait_for_function(
        "document.getElementById('chart-svg').getBoundingClientRect().width <= 500"
    )
    page.click("a.version-link >> text=v1")
    page.wait_for_selector("body[data-chart-ready=true]")
    assert page.inner_text("h1 .version") == "v1"
    page.close()


def test_plot_of_an_unknown_series_is_a_clear_error(
    plotted: tuple[Service, dict[str, Any]],
) -> None:
    service, _ = plotted
    response = httpx.get(f"{service.url}/plot", params={"series_id": "nobody"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "MODEL_NOT_FOUND"


def test_api_docs_render_offline(browser: Any, plotted: tuple[Service, dict[str, Any]]) -> None:
    service, _ = plotted
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{service.url}/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/series/{series_id}/predict" in p for p in paths)
    assert any("/v1/predict" in p for p in paths)
    assert all(url.startswith(service.url) for url in requested), requested
    page.close()
