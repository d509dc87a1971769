// One study: summary, charts, trials, the current region and hand controls, refreshed every few seconds.

import { ApiError, api, bindToken, describe, el, fmt, pages, poll, setRows } from "./api.js";
import { bestChart, curvesChart, levelColour, paramChart, setBest, setCurves, setParam } from "./charts.js";
import { TrialsTable } from "./trials-table.js";

const MAX_TRIALS = 2000; // the latest trials drawn and listed: two pages of JSON per refresh at most
const MAX_CURVES = 30; // learning curves of the latest trials; more lines than this is a blur
const CURVE_POINTS = 200; // per curve, thinned by the service: plenty for a chart a few hundred pixels wide
const MAX_LEVELS_LISTED = 20; // the latest zooms; older ones rarely explain what is sampled now

const name = document.getElementById("study").dataset.study;
const base = `/v1/studies/${encodeURIComponent(name)}`;
const $ = (id) => document.getElementById(id);

const page = {
  incarnation: null, // the study id this page was drawn for: the hand controls act on it alone
  study: null,
  trials: [],
  curves: [],
  levels: [],
  current: null,
  signature: null,
  charts: null,
  table: null,
};

function setUp(study) {
  page.incarnation = study.id;
  const grid = $("param-charts");
  const params = study.space.map((param) => {
    const canvas = el("canvas", { "data-param": param.name, "aria-label": `objective against ${param.name}` });
    grid.append(el("figure", { className: "chart" }, [canvas]));
    return paramChart(canvas, param);
  });
  page.charts = { best: bestChart($("best-chart")), curves: curvesChart($("curves-chart")), params };
  page.table = new TrialsTable($("trials"), $("trial-state"), $("trial-count"), study.space);
  const numeric = study.space.filter((p) => p.type !== "categorical");
  $("region-param").replaceChildren(...numeric.map((p) => el("option", { text: p.name })));
  $("region-param").addEventListener("change", fillRegionInputs);
}

// -- loading ------------------------------------------------------------------------------------

async function loadRegions() {
  let body = await api(`${base}/regions`);
  const levels = [...body.levels];
  while (body.next_cursor) {
    body = await api(`${base}/regions?cursor=${encodeURIComponent(body.next_cursor)}`);
    levels.push(...body.levels);
  }
  page.current = body.current;
  // `box` holds low/high for numeric params and {choices} for categoricals.
  page.levels = levels.map((l) => ({
    level: l.level,
    reason: l.by,
    note: l.note,
    asked: l.asked,
    finished: l.finished,
    best: l.best,
    regions: l.box,
  }));
}

async function loadCurves() {
  const numbers = page.trials
    .filter((t) => t.state === "running" || t.state === "complete" || t.state === "pruned")
    .slice(0, MAX_CURVES)
    .map((t) => t.number);
  if (!numbers.length) return [];
  const body = await api(`${base}/curves?numbers=${numbers.join(",")}&max_points=${CURVE_POINTS}`);
  return body.curves.filter((c) => c.points.length > 0);
}

async function refresh() {
  const study = await api(base);
  if (!page.charts) setUp(study);
  page.study = study;
  // Trials and regions change only when counts do; running trials' curves grow regardless.
  const signature = JSON.stringify([study.counts, study.state, study.queued]);
  const changed = signature !== page.signature;
  if (changed) {
    page.trials = await pages(`${base}/trials?order=-number`, "trials", { limit: 1000, max: MAX_TRIALS });
    await loadRegions();
  }
  if (changed || page.trials.some((t) => t.state === "running")) page.curves = await loadCurves();
  page.signature = signature; // set last, so a refresh that failed half-way is redone whole
  render();
}

// -- rendering ----------------------------------------------------------------------------------

function render() {
  const { study, trials } = page;
  renderSummary(study);
  setBest(page.charts.best, trials, study.direction);
  for (const chart of page.charts.params) setParam(chart, trials, page.levels, page.current);
  setCurves(page.charts.curves, page.curves, new Map(trials.map((t) => [t.number, t])));
  page.table.update(trials, study.counts.total);
  renderRegion(study);
  $("pause").disabled = study.state === "paused";
  $("resume").disabled = study.state !== "paused";
  if ($("region-low").value === "") fillRegionInputs();
  if (!$("enqueue-params").value && study.best) {
    $("enqueue-params").value = JSON.stringify(study.best.params, null, 1);
  }
}

function renderSummary(study) {
  $("study-state").textContent = study.state;
  $("study-state").className = `badge ${study.state}`;
  $("counts").replaceChildren(
    ...["total", "running", "complete", "pruned", "failed", "expired"].map((state) =>
      el("div", { className: `badge ${state}` }, [
        el("b", { text: String(study.counts[state]) }),
        el("span", { text: state }),
      ]),
    ),
  );
  const facts = [
    ["direction", study.direction],
    ["sampler", study.sampler.name || "–"],
    ["pruner", (study.pruner && study.pruner.name) || "none"],
    ["queued", String(study.queued)],
    ["best", study.best ? `${fmt(study.best.value)} (#${study.best.number})` : "–"],
  ];
  if (study.best) {
    const params = Object.entries(study.best.params).map(([k, v]) => `${k}=${fmt(v)}`);
    facts.push(["", params.join(", ")]);
  }
  if (study.note) facts.push(["note", study.note]);
  $("summary").replaceChildren(...facts.flatMap(([term, text]) => [el("dt", { text: term }), el("dd", { text })]));
}

/** The region of `param` at the current level, or its whole range when regions are unknown. */
function currentRegion(param) {
  const level = page.levels.find((l) => l.level === page.current) ?? page.levels[page.levels.length - 1];
  return (level && level.regions[param.name]) || param;
}

function renderRegion(study) {
  setRows(
    $("region").tBodies[0],
    study.space.map((param) => {
      const region = currentRegion(param);
      const range =
        param.type === "categorical"
          ? region.choices.map(String).join(", ")
          : `${fmt(region.low)} – ${fmt(region.high)}`;
      return [param.name, range, param.scale || param.type];
    }),
  );
  setRows(
    $("levels").tBodies[0],
    page.levels
      .slice(-MAX_LEVELS_LISTED)
      .reverse()
      .map((l) => {
        const swatch = el("span", { className: "swatch" });
        swatch.style.backgroundColor = levelColour(l.level); // CSSOM, which the page's CSP allows
        return [
          el("span", {}, [swatch, String(l.level)]),
          l.note || l.reason,
          { text: `${l.asked} / ${l.finished}`, className: "num" },
          { text: fmt(l.best), className: "num" },
        ];
      }),
  );
  $("levels").hidden = page.levels.length === 0;
}

function fillRegionInputs() {
  const param = page.study.space.find((p) => p.name === $("region-param").value);
  if (!param) return;
  const region = currentRegion(param);
  $("region-low").value = region.low;
  $("region-high").value = region.high;
  $("region-value").value = "";
}

// -- hand controls ------------------------------------------------------------------------------

const refreshNow = poll(refresh);
bindToken(refreshNow);

function control(button, action) {
  button.addEventListener("click", async () => {
    const status = $("control-status");
    status.className = "status";
    status.textContent = "…";
    try {
      status.textContent = await action();
      page.signature = null; // reload trials and regions too, not only the study
      refreshNow();
    } catch (error) {
      status.className = "status error";
      status.textContent = error instanceof ApiError ? describe(error) : error.message;
    }
  });
}

function numberIn(input) {
  const value = input.value === "" ? NaN : Number(input.value);
  if (!Number.isFinite(value)) throw new Error(`${input.labels[0].textContent.trim()} needs a number`);
  return value;
}

async function editRegion(change) {
  const body = { param: $("region-param").value, study_id: page.incarnation, ...change };
  const note = $("region-note").value.trim();
  if (note) body.note = note;
  const level = await api(`${base}/regions`, { method: "POST", body });
  return `${body.param} changed: new level ${level.level}.`;
}

control($("pause"), async () => {
  await api(`${base}/pause`, { method: "POST", body: { study_id: page.incarnation } });
  return "Paused: asks answer 409 study_paused until resumed; running trials still report and tell.";
});
control($("resume"), async () => {
  await api(`${base}/resume`, { method: "POST", body: { study_id: page.incarnation } });
  return "Resumed: asks hand out trials again.";
});
control($("enqueue"), async () => {
  let params;
  try {
    params = JSON.parse($("enqueue-params").value);
  } catch {
    throw new Error('The configuration is not JSON; write one object, e.g. {"lr": 0.01}.');
  }
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new Error('Write one JSON object of params, e.g. {"lr": 0.01}.');
  }
  const body = await api(`${base}/enqueue`, {
    method: "POST",
    body: { configurations: [params], study_id: page.incarnation },
  });
  return `Queued as #${body.enqueued[0].id}: the next ask gets it before any sampled trial.`;
});
control($("region-range"), () => editRegion({ low: numberIn($("region-low")), high: numberIn($("region-high")) }));
control($("region-pin"), () => editRegion({ value: numberIn($("region-value")) }));
