"""The dashboard in a real headless Chromium against gunicorn: the pages load without console
errors, the charts hold the study's trials and follow new ones; the pair view draws every selected
level's box and every point; every level is in the timeline; the importance bars are the API's;
brushing the parallel coordinates filters the trials table, which downloads as CSV; charts download
as PNG; studies compare on one page; a hand control works end to end. Every view is saved as a
screenshot under tmp/artifacts (or $HONE_ARTIFACTS), after its data has loaded.

Needs Debian's `chromium` and `chromium-driver`; skips without them unless HONE_REQUIRE_BROWSER=1
(as in CI), where their absence fails.
"""

from __future__ import annotations

import json
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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from .servers import Gunicorn
from .test_coarse_to_fine_api import SPACE as BASINS_SPACE
from .test_coarse_to_fine_api import two_basins
from .test_studies_api import SPACE as API_SPACE

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("HONE_ARTIFACTS", ROOT / "tmp" / "artifacts"))
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
TWO = "two-basins"  # coarse-to-fine keeping a box around each of two optima
ZOOM, ZOOM_TRIALS = "zoom", 150  # one worker, so coarse-to-fine zooms level after level
EDITED, EDITS = "edited", 20  # levels made by hand: twenty of them
OLD = "zoom-old"  # the same search a few months earlier, for the compare page
C2F = {"name": "coarse_to_fine", "initial_trials": 16, "trials_per_level": 10}
DEFAULT_LEVELS = 8  # drawn until the user picks (levels.js)


@dataclass(frozen=True)
class Seeded:
    """The service holding the seeded study, and how many curve points each trial reported."""

    url: str
    curves: dict[int, int]

    @property
    def api(self) -> str:
        return f"{self.url}/v1/studies/{STUDY}"

    def get(self, path: str, study: str = STUDY) -> Any:
        response = httpx.get(f"{self.url}/v1/studies/{study}{path}")
        assert response.status_code == 200, response.text
        return response.json()

    def levels(self, study: str) -> list[dict[str, Any]]:
        body = self.get("/regions?limit=1000", study)
        assert body["next_cursor"] is None
        return body["levels"]


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


def seed_zoom(
    url: str,
    name: str,
    trials: int,
    seed: int,
    space: list[dict[str, Any]] = SPACE,
    judge: Callable[[dict[str, Any]], float] = objective,
) -> None:
    """Ask and tell one trial at a time on coarse-to-fine: level after level, as the notes draw it."""
    with httpx.Client(base_url=f"{url}/v1/studies/{name}/", timeout=30) as http:
        assert (
            http.put(f"{url}/v1/studies/{name}", json={"space": space, "sampler": C2F, "seed": seed}).status_code == 201
        )
        for _ in range(trials):
            trial = http.post("trials/ask", json={}).json()["trials"][0]
            told = http.post(f"trials/{trial['id']}/tell", json={"state": "complete", "value": judge(trial["params"])})
            assert told.status_code == 200, told.text


def seed_edited(url: str) -> None:
    """A study whose region was narrowed by hand twenty times: twenty-one levels."""
    seed_zoom(url, EDITED, 12, seed=5)
    for edit in range(EDITS):
        body = {"param": "lr", "low": 10 ** (-4 + edit * 0.05), "high": 1.0, "note": f"edit {edit}: narrower lr"}
        assert httpx.post(f"{url}/v1/studies/{EDITED}/regions", json=body).status_code == 200


@pytest.fixture(scope="module")
def browser(study: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # Taking the study makes the browser quit before its server stops: chromium's idle keep-alive
    # connections would otherwise hold gunicorn's graceful shutdown for its whole 20 s.
    require_browser()
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # One click saves one file; several in a row are not a prompt to answer.
    options.add_experimental_option("prefs", {"profile.default_content_setting_values.automatic_downloads": 1})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """gunicorn on the embedded Redis, holding the seeded study."""
    require_browser()  # before starting anything
    with Gunicorn({"HONE_DATA_DIR": str(tmp_path_factory.mktemp("dashboard-data"))}, workers=1) as server:
        curves = seed(server.url)
        seed_zoom(server.url, ZOOM, ZOOM_TRIALS, seed=3)
        seed_zoom(server.url, OLD, 60, seed=4)
        seed_zoom(server.url, TWO, 36, seed=3, space=BASINS_SPACE[:2], judge=two_basins)
        seed_edited(server.url)
        yield Seeded(server.url, curves)


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


def open_page(browser: Any, url: str) -> None:
    """Load a page and wait until its data has loaded and been drawn (the body's loaded marker)."""
    console_errors(browser)  # start this page's log afresh
    browser.get(url)
    wait_for(lambda: browser.execute_script("return document.body.dataset.loaded === 'true'"), f"{url} to load")


def open_study_page(browser: Any, study: Seeded, name: str = STUDY) -> None:
    open_page(browser, f"{study.url}/studies/{name}")


def screenshot(browser: Any, name: str, element: Any = None) -> Path:
    """Save the page (or one element) under ARTIFACTS; the whole page's height at a laptop's width."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if element is not None:
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
        assert element.screenshot(str(path))
        return path
    height = browser.execute_script("window.scrollTo(0, 0); return document.documentElement.scrollHeight")
    browser.set_window_size(1440, height)
    assert browser.save_screenshot(str(path))
    browser.set_window_size(1440, 900)
    return path


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
    bands: Object.values(chart.$boxes || {}).reduce((a, b) => a + b, 0),
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
    rows = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in browser.find_elements(By.CSS_SELECTOR, "#studies tbody tr")
    ]
    names = [r[0] for r in rows]
    assert names == sorted(names) and {STUDY, ZOOM, OLD, EDITED} <= set(names)
    row = next(r for r in rows if r[0] == STUDY)
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
    drawn = min(len(levels), DEFAULT_LEVELS)
    assert all(params[n]["bands"] == drawn for n in ("lr", "beta", "layers", "dropout")), params
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
    browser: Any, study: Seeded, capsys: pytest.CaptureFixture[str]
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

    # The whole page at a laptop's width, for a look at what CI saw.
    shot = screenshot(browser, "study-mnist")
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


PAIR_JS = """
const chart = Chart.getChart(document.getElementById("pair-chart"));
return {
  x: document.getElementById("pair-x").value,
  y: document.getElementById("pair-y").value,
  scales: [chart.scales.x.type, chart.scales.y.type, Boolean(chart.options.scales.y.reverse)],
  points: chart.data.datasets.reduce((n, d) => n + d.data.length, 0),
  boxes: chart.$boxes,
  selected: [...document.querySelectorAll("#timeline input:checked")].map((b) => Number(b.dataset.level)),
  swatches: [...document.querySelectorAll("#timeline input:checked + .swatch")].map((s) => s.style.backgroundColor),
  rows: document.querySelectorAll("#timeline tbody tr").length,
  xLabels: chart.scales.x.ticks.map((t) => t.label),
  xTicks: [chart.scales.x.min, chart.scales.x.ticks.map((t) => t.value), chart.scales.x.max],
};
"""


def pair_view(browser: Any) -> dict[str, Any]:
    result: dict[str, Any] = browser.execute_script(PAIR_JS)
    return result


def choose_pair(browser: Any, x: str, y: str) -> None:
    Select(browser.find_element(By.ID, "pair-x")).select_by_visible_text(x)
    Select(browser.find_element(By.ID, "pair-y")).select_by_visible_text(y)


def test_the_pair_view_draws_a_box_around_each_basin_of_a_level(browser: Any, study: Seeded) -> None:
    levels = study.levels(TWO)
    split = [level["level"] for level in levels if level["basins"]]
    assert split  # the seed and trials of test_coarse_to_fine_api's hand-edit test, which splits
    open_study_page(browser, study, TWO)
    choose_pair(browser, "lr", "beta")
    view = pair_view(browser)
    assert view["boxes"] == {str(level["level"]): 1 + len(level["basins"]) for level in levels}
    assert all(view["boxes"][str(level)] == 2 for level in split)
    screenshot(browser, "pair-view-basins", browser.find_element(By.ID, "pair-section"))
    assert console_errors(browser) == []


def test_the_pair_view_opens_on_the_two_most_important_params(browser: Any, study: Seeded) -> None:
    ranked = [p["param"] for p in study.get("/importance", ZOOM)["params"]]
    open_study_page(browser, study, ZOOM)
    view = pair_view(browser)
    assert [view["x"], view["y"]] == ranked[:2]
    assert console_errors(browser) == []


def test_the_pair_view_draws_one_box_per_basin_of_each_selected_level_and_every_point(
    browser: Any, study: Seeded
) -> None:
    complete = study.get("/trials?state=complete&limit=1000", ZOOM)["trials"]
    levels = study.levels(ZOOM)
    assert len(levels) > DEFAULT_LEVELS  # the study zoomed far enough for the selection to matter
    open_study_page(browser, study, ZOOM)
    choose_pair(browser, "lr", "beta")
    view = pair_view(browser)
    assert view["scales"] == ["logarithmic", "logarithmic", True]  # beta: 1 - beta on a reversed log axis
    assert view["points"] == len(complete)
    latest = [level["level"] for level in levels[-DEFAULT_LEVELS:]]
    assert view["selected"] == latest
    assert view["boxes"] == {str(level["level"]): 1 + len(level["basins"]) for level in levels[-DEFAULT_LEVELS:]}
    assert len(set(view["swatches"])) == len(latest)  # no colour twice among the levels shown
    screenshot(browser, "pair-view", browser.find_element(By.ID, "pair-section"))

    browser.find_element(By.ID, "levels-all").click()
    view = pair_view(browser)
    assert view["selected"] == [level["level"] for level in levels]
    assert view["boxes"] == {str(level["level"]): 1 + len(level["basins"]) for level in levels}
    assert len(set(view["swatches"])) == len(levels)

    # Zoomed to the boxes (a restart's whole-space box aside), every box is still drawn.
    browser.find_element(By.ID, "pair-fit").click()
    zoomed = browser.execute_script(
        "const c = Chart.getChart(document.getElementById('pair-chart')); return [c.scales.x.min, c.scales.x.max];"
    )
    assert 1e-4 < zoomed[0] < zoomed[1] < 1
    assert pair_view(browser)["boxes"] == {str(level["level"]): 1 for level in levels}
    screenshot(browser, "pair-view-zoomed", browser.find_element(By.ID, "pair-section"))
    browser.find_element(By.ID, "pair-fit").click()

    # A categorical axis: one band per run of kept choices, the points jittered within it.
    choose_pair(browser, "optimizer", "layers")
    view = pair_view(browser)
    assert view["points"] == len(complete)
    assert all(n >= 1 for n in view["boxes"].values()) and len(view["boxes"]) == len(levels)

    # A logit axis: log-odds ticked at the fractions people name; zoomed, its ticks stay on the axis.
    choose_pair(browser, "dropout", "lr")
    view = pair_view(browser)
    assert view["points"] == len(complete)
    assert view["boxes"] == {str(level["level"]): 1 + len(level["basins"]) for level in levels}
    assert view["xLabels"] == ["0.01", "0.1", "0.5", "0.9", "0.99"]
    full = view["xTicks"]
    browser.find_element(By.ID, "pair-fit").click()
    low, ticks, high = pair_view(browser)["xTicks"]
    # The boxes narrowed dropout, so the zoom has work to do.
    assert full[0] <= low < high <= full[2] and (low, high) != (full[0], full[2])
    assert ticks[0] == low and ticks[-1] == high and all(low < t < high for t in ticks[1:-1]), ticks
    browser.find_element(By.ID, "pair-fit").click()
    assert console_errors(browser) == []


def test_a_twenty_level_study_shows_every_level_in_the_timeline(browser: Any, study: Seeded) -> None:
    levels = study.levels(EDITED)
    assert len(levels) == EDITS + 1
    open_study_page(browser, study, EDITED)
    assert pair_view(browser)["rows"] == len(levels)
    notes = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr td.why")]
    assert notes[-1].endswith(f"edit {EDITS - 1}: narrower lr") and notes[0].startswith("coarse_to_fine")
    # The oldest level is as reachable as the newest: tick it and its box is drawn.
    browser.find_element(By.ID, "levels-none").click()
    assert pair_view(browser)["boxes"] == {}
    browser.find_element(By.CSS_SELECTOR, '#timeline input[data-level="0"]').click()
    choose_pair(browser, "lr", "beta")
    assert pair_view(browser)["boxes"] == {"0": 1}
    screenshot(browser, "timeline-20-levels", browser.find_element(By.ID, "pair-section"))
    assert console_errors(browser) == []


def test_the_importance_bars_are_the_apis(browser: Any, study: Seeded) -> None:
    answer = study.get("/importance", ZOOM)
    open_study_page(browser, study, ZOOM)
    bars = browser.execute_script(
        "const c = Chart.getChart(document.getElementById('importance-chart'));"
        "return [c.data.labels, c.data.datasets[0].data];"
    )
    assert bars == [[p["param"] for p in answer["params"]], [p["importance"] for p in answer["params"]]]
    assert f"{answer['trials']} complete trials" in browser.find_element(By.ID, "importance-note").text
    axes = json.loads(browser.find_element(By.ID, "parallel-chart").get_attribute("data-axes"))
    assert [a["name"] for a in axes] == [p["param"] for p in answer["params"]] + ["objective"]
    screenshot(browser, "importance", browser.find_element(By.ID, "importance-chart"))
    assert console_errors(browser) == []


def table_numbers(browser: Any) -> list[int]:
    """The trial numbers in the trials table, read in one go (a refresh redraws the rows)."""
    script = "return [...document.querySelectorAll('#trials tbody tr')].map((r) => Number(r.cells[0].textContent))"
    numbers: list[int] = browser.execute_script(script)
    return numbers


def test_brushing_the_parallel_coordinates_filters_the_trials_table_and_its_csv(browser: Any, study: Seeded) -> None:
    complete = study.get("/trials?state=complete&limit=1000", ZOOM)["trials"]
    open_study_page(browser, study, ZOOM)
    canvas = browser.find_element(By.ID, "parallel-chart")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    axes = {a["name"]: a["x"] for a in json.loads(canvas.get_attribute("data-axes"))}
    plot = json.loads(canvas.get_attribute("data-plot"))
    # Drag along the objective's axis over its lower half: the better trials of a minimized study.
    # Selenium's offsets are from the element's centre.
    x = round(axes["objective"] - plot["width"] / 2)
    start = round(plot["bottom"] - 2 - plot["height"] / 2)
    end = round((plot["top"] + plot["bottom"]) / 2 - plot["height"] / 2)
    drag = ActionChains(browser).move_to_element_with_offset(canvas, x, start).click_and_hold()
    drag.move_by_offset(0, (end - start) // 2).move_by_offset(0, end - start - (end - start) // 2).release().perform()
    low, high = json.loads(canvas.get_attribute("data-brushes"))["objective"]
    inside = sorted(t["number"] for t in complete if low - 1e-9 <= t["value"] <= high + 1e-9)
    assert 0 < len(inside) < len(complete)
    assert sorted(table_numbers(browser)) == inside
    assert "brushed" in browser.find_element(By.ID, "trial-count").text
    screenshot(browser, "parallel-brushed", browser.find_element(By.ID, "parallel-chart"))

    browser.find_element(By.ID, "trials-csv").click()
    csv_file = wait_for(lambda: next(iter(browser.downloads.glob(f"{ZOOM}-trials.csv")), None), "the CSV download")
    header, *lines = csv_file.read_text().splitlines()
    assert header.startswith("#,state,value,level,source,lr,beta")
    assert sorted(int(line.split(",")[0]) for line in lines) == inside

    browser.find_element(By.ID, "parallel-clear").click()
    assert len(table_numbers(browser)) == study.get("", ZOOM)["counts"]["total"]
    assert console_errors(browser) == []


def test_every_chart_downloads_as_png(browser: Any, study: Seeded) -> None:
    open_study_page(browser, study, ZOOM)
    buttons = browser.find_elements(By.CSS_SELECTOR, "button.download")
    names = [b.get_attribute("title").removeprefix("download ") for b in buttons if b.get_attribute("title")]
    expected = {f"{ZOOM}-{n}.png" for n in ("pair", "importance", "parallel", "best", "curves")}
    expected |= {f"{ZOOM}-{p['name']}.png" for p in SPACE}
    assert expected <= set(names)
    saved = lambda: {p.name for p in browser.downloads.glob("*.png")}  # noqa: E731
    expected |= {f"{ZOOM}-matrix.png"}
    # One at a time, on a page opened afresh every few: Chromium holds back a burst of downloads.
    for i, name in enumerate(sorted(expected)):
        if i and i % 5 == 0:
            open_study_page(browser, study, ZOOM)
        selector = "#matrix-png" if name.endswith("-matrix.png") else f'button[title="download {name}"]'
        browser.execute_script("arguments[0].click()", browser.find_element(By.CSS_SELECTOR, selector))
        wait_for(lambda name=name: name in saved(), name)
    for name in expected:
        assert (browser.downloads / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    screenshot(browser, f"study-{ZOOM}")
    assert console_errors(browser) == []


def test_two_studies_compare_on_one_page(browser: Any, study: Seeded) -> None:
    counts = {name: study.get("", name)["counts"]["complete"] for name in (ZOOM, OLD)}
    open_page(browser, f"{study.url}/compare?study={ZOOM}&study={OLD}")
    curves = browser.execute_script(
        "const c = Chart.getChart(document.getElementById('compare-chart'));"
        "return c.data.datasets.map((d) => [d.label, d.data.length, d.data.at(-1).y]);"
    )
    assert curves == [[name, counts[name], study.get("", name)["best"]["value"]] for name in (ZOOM, OLD)]
    header = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#compare-regions thead th")]
    assert header[0] == "param" and [h.split(" ")[0] for h in header[1:]] == [ZOOM, OLD]
    rows = browser.find_elements(By.CSS_SELECTOR, "#compare-regions tbody tr")
    assert [r.find_element(By.TAG_NAME, "td").text.split(" ")[0] for r in rows] == [p["name"] for p in SPACE]
    screenshot(browser, "compare")
    assert console_errors(browser) == []

    # From the study list: tick two studies and follow the link.
    open_page(browser, f"{study.url}/")
    for name in (ZOOM, OLD):
        browser.find_element(By.CSS_SELECTOR, f'#studies input[data-study="{name}"]').click()
    link = browser.find_element(By.ID, "compare-selected")
    assert link.get_attribute("href") == f"{study.url}/compare?study={ZOOM}&study={OLD}"


def test_a_warm_started_study_opens_the_compare_page_on_old_against_new(browser: Any, study: Seeded) -> None:
    name = "zoom-retuned"
    body = {"space": SPACE, "sampler": C2F, "seed": 9, "warm_start": {"from": OLD, "top": 5}}
    with httpx.Client(base_url=f"{study.url}/v1/studies/{name}/", timeout=30) as http:
        assert http.put(f"{study.url}/v1/studies/{name}", json=body).status_code == 201
        for _ in range(30):
            trial = http.post("trials/ask", json={}).json()["trials"][0]
            told = {"state": "complete", "value": objective(trial["params"])}
            assert http.post(f"trials/{trial['id']}/tell", json=told).status_code == 200
    open_study_page(browser, study, name)
    link = browser.find_element(By.ID, "warm-compare")
    assert link.text == f"compare {OLD} with {name}"
    assert link.find_element(By.XPATH, "..").text.startswith(f"from {OLD}: 5 configurations")
    link.click()
    wait_for(
        lambda: (
            "/compare?" in browser.current_url
            and browser.execute_script("return document.body.dataset.loaded === 'true'")
        ),
        "the compare page",
    )
    labels = browser.execute_script(
        "return Chart.getChart(document.getElementById('compare-chart')).data.datasets.map((d) => d.label);"
    )
    assert labels == [OLD, name]
    screenshot(browser, "compare-warm-start")
    assert console_errors(browser) == []


def test_values_spanning_decades_get_a_log_axis_and_int_points_spread(browser: Any, study: Seeded) -> None:
    name = "decades"
    with httpx.Client(base_url=f"{study.url}/v1/studies/{name}/", timeout=30) as http:
        assert http.put(f"{study.url}/v1/studies/{name}", json={"space": SPACE, "seed": 2}).status_code == 201
        for i, trial in enumerate(http.post("trials/ask", json={"count": 12}).json()["trials"]):
            body = {"state": "complete", "value": 10.0 ** (i - 4)}  # 1e-4 to 1e7
            assert http.post(f"trials/{trial['id']}/tell", json=body).status_code == 200
    open_study_page(browser, study, name)
    axes = browser.execute_script(
        """
        const y = (id) => Chart.getChart(document.getElementById(id)).scales.y.type;
        const layers = Chart.getChart(document.querySelector('canvas[data-param="layers"]'));
        return {
          best: y("best-chart"),
          layers: layers.scales.y.type,
          xs: layers.data.datasets.flatMap((d) => d.data.map((p) => [p.x, p.value])),
        };
        """
    )
    assert (axes["best"], axes["layers"]) == ("logarithmic", "logarithmic")
    # Int points are jittered around their value, never onto a neighbour's.
    assert all(abs(x - value) < 0.5 for x, value in axes["xs"])
    assert len({x for x, _ in axes["xs"]}) == len(axes["xs"]) > len({value for _, value in axes["xs"]})
    open_study_page(browser, study)
    assert browser.execute_script("return Chart.getChart(document.getElementById('best-chart')).scales.y.type") == (
        "linear"
    )
    assert console_errors(browser) == []
