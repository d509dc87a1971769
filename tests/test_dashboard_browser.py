"""The dashboard in a real headless Chromium against gunicorn: the pages load without console
errors, the charts hold the study's trials and follow new ones, the trials table filters and
sorts, a hand control works end to end, and the study page is saved as a screenshot.

Needs Debian's `chromium` and `chromium-driver`; skips without them unless HONE_REQUIRE_BROWSER=1
(as in CI), where their absence fails.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from .servers import Gunicorn
from .test_studies_api import SPACE as API_SPACE

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless, and nothing that phones home or downloads: the test runs offline.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,900",
)
STUDY = "mnist"
TRIALS = 28
PRUNED, FAILED, RUNNING = {4, 11, 17}, {8, 20}, {25, 26, 27}


@dataclass(frozen=True)
class Seeded:
    """The service holding the seeded study, and how many curve points each trial reported."""

    url: str
    curves: dict[int, int]

    @property
    def api(self) -> str:
        return f"{self.url}/v1/studies/{STUDY}"

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.api}{path}")
        assert response.status_code == 200, response.text
        return response.json()


def require_browser(binaries: tuple[Path, ...] = (CHROMIUM, CHROMEDRIVER)) -> None:
    if all(binary.exists() for binary in binaries):
        return
    message = "needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
    if os.environ.get("HONE_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


# The API tests' space and a fraction on the logit scale, so every axis kind is drawn.
SPACE = [*API_SPACE, {"name": "dropout", "type": "float", "low": 0.01, "high": 0.99, "scale": "logit"}]


def objective(params: dict[str, Any]) -> float:
    """A bowl in log(lr) and log(1 - beta), so the charts show where the good region is."""
    lr = (math.log10(params["lr"]) + 2.5) ** 2
    beta = (math.log10(1 - params["beta"]) + 2.5) ** 2
    return round(0.05 + 0.04 * lr + 0.03 * beta + 0.01 * params["layers"], 6)


def seed(url: str) -> dict[int, int]:
    """A study with complete, pruned, failed and running trials, and learning curves for all but the failed."""
    with httpx.Client(base_url=f"{url}/v1/studies/{STUDY}/", timeout=30) as http:
        assert http.put(f"{url}/v1/studies/{STUDY}", json={"space": SPACE, "seed": 11}).status_code == 201
        trials = http.post("trials/ask", json={"count": TRIALS, "worker": "gpu-1"}).json()["trials"]
        curves: dict[int, int] = {}
        for trial in trials:
            number, final = trial["number"], objective(trial["params"])
            if number in FAILED:
                told = http.post(f"trials/{trial['id']}/tell", json={"state": "failed", "error": "CUDA out of memory"})
                assert told.status_code == 200, told.text
                continue
            steps = 4 if number in PRUNED else 3 if number in RUNNING else 10
            for step in range(steps):
                value = final + (1 - final) * math.exp(-step / 3)
                assert http.post(f"trials/{trial['id']}/report", json={"step": step, "value": value}).status_code == 200
            curves[number] = steps
            if number in PRUNED:
                assert http.post(f"trials/{trial['id']}/tell", json={"state": "pruned"}).status_code == 200
            elif number not in RUNNING:
                told = http.post(f"trials/{trial['id']}/tell", json={"state": "complete", "value": final})
                assert told.status_code == 200, told.text
        return curves


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_browser()
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """gunicorn on the embedded Redis, holding the seeded study."""
    require_browser()  # before starting anything
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("dashboard-data"))}, workers=1) as server:
        yield Seeded(server.url, seed(server.url))


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def console_errors(browser: Any) -> list[str]:
    """SEVERE browser log entries since the last call."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def open_study_page(browser: Any, study: Seeded) -> None:
    console_errors(browser)  # start this page's log afresh
    browser.get(f"{study.url}/studies/{STUDY}")
    wait_for(lambda: browser.find_element(By.ID, "updated").text, "the page's first refresh")


CHARTS_JS = """
const points = (chart) => chart.data.datasets.reduce((n, d) => n + d.data.length, 0);
const params = {};
for (const canvas of document.querySelectorAll("canvas[data-param]")) {
  const chart = Chart.getChart(canvas);
  params[canvas.dataset.param] = {
    points: points(chart),
    scale: chart.scales.x.type,
    reverse: Boolean(chart.options.scales.x.reverse),
    labels: chart.scales.x.ticks.map((t) => t.label).filter((l) => l !== ""),
    bands: chart.options.plugins.regionBands.bands.length,
  };
}
const best = Chart.getChart(document.getElementById("best-chart"));
const curves = Chart.getChart(document.getElementById("curves-chart"));
return {
  best: best.data.datasets.map((d) => d.data.length),
  bestSoFar: best.data.datasets[1].data.map((p) => p.y),
  params,
  curves: curves.data.datasets.map((d) => [d.label, d.data.length, d.borderDash.length > 0]),
};
"""


def test_without_a_browser_the_test_skips_unless_ci_requires_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = (tmp_path / "chromium",)
    monkeypatch.delenv("HONE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_browser(missing)
    monkeypatch.setenv("HONE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception):
        require_browser(missing)


def test_the_study_list_shows_state_counts_and_best(browser: Any, study: Seeded) -> None:
    body = study.get("")
    console_errors(browser)  # start this page's log afresh
    browser.get(f"{study.url}/")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#studies tbody tr"), "the study list")
    row = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#studies tbody tr:first-child td")]
    assert row[:2] == [STUDY, "active"]
    link = browser.find_element(By.LINK_TEXT, STUDY).get_attribute("href")
    assert link == f"{study.url}/studies/{STUDY}"
    counts = body["counts"]
    assert row[4:10] == [str(counts[k]) for k in ("running", "complete", "pruned", "failed", "expired", "total")]
    assert row[10:12] == [f"{body['best']['value']:g}", f"#{body['best']['number']}"]
    assert console_errors(browser) == []


def test_the_charts_hold_every_trial_each_param_on_its_own_scale(browser: Any, study: Seeded) -> None:
    body = study.get("")
    complete = study.get("/trials?state=complete")["trials"]
    states = {t["number"]: t["state"] for t in study.get("/trials")["trials"]}
    open_study_page(browser, study)
    charts = browser.execute_script(CHARTS_JS)

    assert charts["best"] == [len(complete), len(complete)]
    assert charts["bestSoFar"][-1] == body["best"]["value"]
    assert charts["bestSoFar"] == sorted(charts["bestSoFar"], reverse=True)  # minimizing: it only goes down
    params = charts["params"]
    assert {name: p["points"] for name, p in params.items()} == {
        "lr": len(complete),
        "beta": len(complete),
        "layers": len(complete),
        "optimizer": len(complete),
        "momentum": sum(t["params"]["optimizer"] == "sgd" for t in complete),
        "dropout": len(complete),
    }
    assert [params[n]["scale"] for n in ("lr", "beta", "layers")] == ["logarithmic", "logarithmic", "linear"]
    # reverse_log: 1 - beta on a reversed log axis, labelled in beta itself.
    assert params["beta"]["reverse"] and len(params["beta"]["labels"]) >= 2
    assert all(0.9 <= float(label) < 1 for label in params["beta"]["labels"]), params["beta"]["labels"]
    assert params["optimizer"]["labels"] == ["sgd", "adam"]
    # logit: log-odds on a linear axis, ticked at the fractions people name and labelled in them.
    assert params["dropout"]["scale"] == "linear"
    assert params["dropout"]["labels"] == ["0.01", "0.1", "0.5", "0.9", "0.99"], params["dropout"]["labels"]

    assert {label: n for label, n, _ in charts["curves"]} == {
        f"#{n} {states[n]}": steps for n, steps in study.curves.items()
    }
    assert {label for label, _, dashed in charts["curves"] if dashed} == {f"#{n} pruned" for n in PRUNED}

    # Each level's region drawn behind the points.
    levels = study.get("/regions")["levels"]
    assert all(params[n]["bands"] == min(len(levels), 6) for n in ("lr", "beta", "layers", "dropout")), params
    region = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#region tbody tr")]
    assert [r.split(" ")[0] for r in region] == [p["name"] for p in SPACE]
    assert console_errors(browser) == []


def test_the_page_refreshes_while_trials_arrive(browser: Any, study: Seeded) -> None:
    open_study_page(browser, study)
    points = "return Chart.getChart(document.getElementById('best-chart')).data.datasets[0].data.length"
    before = browser.execute_script(points)
    running = study.get("/trials?state=running")["trials"][0]
    outcome = {"state": "complete", "value": objective(running["params"])}
    told = httpx.post(f"{study.api}/trials/{running['id']}/tell", json=outcome)
    assert told.status_code == 200
    wait_for(lambda: browser.execute_script(points) == before + 1, "the told trial on the chart")
    assert console_errors(browser) == []


def test_the_trials_table_filters_by_state_and_sorts_by_a_column(browser: Any, study: Seeded) -> None:
    body = study.get("")
    open_study_page(browser, study)
    rows = lambda: browser.find_elements(By.CSS_SELECTOR, "#trials tbody tr")  # noqa: E731
    assert len(rows()) == body["counts"]["total"]
    Select(browser.find_element(By.ID, "trial-state")).select_by_visible_text("complete")
    assert len(rows()) == body["counts"]["complete"]
    browser.find_element(By.CSS_SELECTOR, '#trials th[data-key="value"]').click()
    values = [float(r.find_elements(By.TAG_NAME, "td")[2].text) for r in rows()]
    assert values == sorted(values) and values[0] == body["best"]["value"]
    assert console_errors(browser) == []


def test_setting_a_range_from_the_page_makes_a_new_level(browser: Any, study: Seeded) -> None:
    open_study_page(browser, study)
    levels_before = len(study.get("/regions")["levels"])
    Select(browser.find_element(By.ID, "region-param")).select_by_visible_text("lr")
    for field, value in (
        ("region-low", "0.001"),
        ("region-high", "0.01"),
        ("region-note", "alice: lr > 0.01 diverges"),
    ):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "region-range").click()
    wait_for(lambda: len(study.get("/regions")["levels"]) == levels_before + 1, "the new level")
    level = study.get("/regions")["levels"][-1]
    assert level["note"] == "alice: lr > 0.01 diverges"
    assert level["box"]["lr"]["low"] == pytest.approx(0.001) and level["box"]["lr"]["high"] == pytest.approx(0.01)
    wait_for(lambda: "new level" in browser.find_element(By.ID, "control-status").text, "the page to confirm")
    assert console_errors(browser) == []


def test_pause_and_resume_from_the_page_reach_the_api(
    browser: Any, study: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    open_study_page(browser, study)
    browser.find_element(By.ID, "pause").click()
    wait_for(lambda: study.get("")["state"] == "paused", "the study to pause")
    ask = httpx.post(f"{study.api}/trials/ask", json={})
    assert ask.status_code == 409 and ask.json()["error"]["code"] == "study_paused"
    wait_for(lambda: browser.find_element(By.ID, "resume").is_enabled(), "the page to show the pause")
    browser.find_element(By.ID, "resume").click()
    wait_for(lambda: study.get("")["state"] == "active", "the study to resume")
    wait_for(lambda: browser.find_element(By.ID, "pause").is_enabled(), "the page to show the resume")
    assert console_errors(browser) == []

    # The whole page at a laptop's width, for the README and for a look at what CI saw.
    height = browser.execute_script("window.scrollTo(0, 0); return document.documentElement.scrollHeight")
    browser.set_window_size(1440, height)
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    browser.set_window_size(1440, 900)
    with capsys.disabled():
        print(f"\ndashboard screenshot: {shot}")


def test_a_page_drawn_for_a_study_since_deleted_and_created_again_changes_nothing(browser: Any, study: Seeded) -> None:
    other = f"{study.url}/v1/studies/recreated"
    space = [{"name": "lr", "type": "float", "low": 1e-4, "high": 1, "scale": "log"}]
    assert httpx.put(other, json={"space": space}).status_code == 201
    browser.get(f"{study.url}/studies/recreated")
    wait_for(lambda: browser.find_element(By.ID, "updated").text, "the page's first refresh")
    assert httpx.delete(other).status_code == 204
    assert httpx.put(other, json={"space": space}).status_code == 201
    browser.find_element(By.ID, "pause").click()
    status = browser.find_element(By.ID, "control-status")
    wait_for(lambda: "reload" in status.text, "the page to say the study was created again")
    assert httpx.get(other).json()["state"] == "active"
