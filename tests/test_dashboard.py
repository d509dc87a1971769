"""The dashboard's pages as served: only the service's own assets, every one of them present, and the
vendored Chart.js the file its note names. The pages in a browser: test_dashboard_browser.py."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "service" / "dashboard" / "static"
STATIC_URL = "/dashboard/static"
VENDOR = STATIC / "vendor" / "chart.js"


def referenced(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def imported(script: str) -> list[str]:
    return re.findall(r'^import .+ from "\./([^"]+)";$', script, flags=re.MULTILINE)


def test_the_pages_load_only_the_services_own_files_and_use_every_one_shipped(api: Any) -> None:
    fetched: set[str] = set()
    for page in ("/", "/studies/mnist", "/compare"):
        response = api.get(page)
        assert response.status_code == 200
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        links = [url for url in referenced(response.get_data(as_text=True)) if url != "data:,"]
        assert all(url.startswith("/") and not url.startswith("//") for url in links), links
        scripts = [url for url in links if url.endswith(".js")]
        assert scripts[0] == f"{STATIC_URL}/vendor/chart.js/chart.umd.min.js"  # before the modules that use it
        pending = list(links)
        while pending:
            url = pending.pop()
            asset = api.get(url)
            assert asset.status_code == 200, url
            fetched.add(url)
            if url.endswith(".js") and "/vendor/" not in url:
                pending += [f"{STATIC_URL}/{name}" for name in imported(asset.get_data(as_text=True))]
    files = [p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file() and p.suffix != ".md"]
    assert {url for url in fetched if url.startswith(STATIC_URL)} == {f"{STATIC_URL}/{f}" for f in files}


def test_the_study_page_carries_the_name_as_text_not_markup(api: Any) -> None:
    html = api.get("/studies/a.b-c_d").get_data(as_text=True)
    assert 'data-study="a.b-c_d"' in html
    assert api.get("/studies/<script>").status_code == 404


def test_chart_js_is_the_release_its_note_names() -> None:
    note = (VENDOR / "README.md").read_text()
    digest = hashlib.sha256((VENDOR / "chart.umd.min.js").read_bytes()).hexdigest()
    assert f"sha256 of `chart.umd.min.js`: `{digest}`" in note
    version = re.search(r"`chart.js` (\d+\.\d+\.\d+)", note)
    assert version and (VENDOR / "chart.umd.min.js").read_text().startswith(f"/*!\n * Chart.js v{version[1]}\n")
    assert "MIT License" in (VENDOR / "LICENSE.md").read_text()
