// One study: the pair view and level timeline, importance and parallel coordinates, the other
// charts, trials, the current region and hand controls, refreshed every few seconds.

import { ApiError, api, bindToken, describe, el, fmt, pages, poll, setRows } from "./api.js";
import {
  bestChart,
  curvesChart,
  importanceChart,
  pairChart,
  paramChart,
  scatterContext,
  setBest,
  setCurves,
  setImportance,
  setPair,
  setParam,
} from "./charts.js";
import { pngButton, saveText } from "./download.js";
import { LevelTimeline } from "./levels.js";
import { ParallelCoordinates, objectiveAxis, paramAxis as parallelAxis } from "./parallel.js";
import { TrialsTable } from "./trials-table.js";

const MAX_TRIALS = 2000; // the latest trials drawn and listed: two pages of JSON per refresh at most
const MAX_CURVES = 30; // learning curves of the latest trials; more lines than this is a blur
const CURVE_POINTS = 200; // per curve, thinned by the service: plenty for a chart a few hundred pixels wide
const MATRIX_PARAMS = 4; // a scatter matrix of more than four params is too small to read on a laptop

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
  importance: null, // the API's answer, or null while the study has too few complete trials
  importanceNote: "",
  signature: null,
  charts: null,
  table: null,
  timeline: null,
  parallel: null,
  pairChosen: false, // the user picked the pair's axes: keep them
  matrix: { names: "", cells: [] },
};

function setUp(study) {
  page.incarnation = study.id;
  const grid = $("param-charts");
  const params = study.space.map((param) => {
    const canvas = el("canvas", { "data-param": param.name, "aria-label": `objective against ${param.name}` });
    grid.append(el("figure", { className: "chart" }, [canvas, pngButton(canvas, `${name}-${param.name}.png`)]));
    return paramChart(canvas, param);
  });
  page.charts = {
    best: bestChart($("best-chart")),
    curves: curvesChart($("curves-chart")),
    importance: importanceChart($("importance-chart")),
    pair: pairChart($("pair-chart")),
    params,
  };
  page.table = new TrialsTable($("trials"), $("trial-state"), $("trial-count"), study.space);
  page.timeline = new LevelTimeline(
    $("timeline"),
    { latest: $("levels-latest"), all: $("levels-all"), none: $("levels-none"), count: $("timeline-count") },
    renderScatter,
  );
  page.parallel = new ParallelCoordinates($("parallel-chart"), (numbers) => page.table.restrict(numbers));
  $("parallel-clear").addEventListener("click", () => page.parallel.clear());
  for (const button of document.querySelectorAll("button[data-png]")) {
    const canvas = $(button.dataset.png);
    button.replaceWith(pngButton(canvas, `${name}-${button.dataset.png.replace(/-chart$/, "")}.png`));
  }
  $("matrix-png").addEventListener("click", saveMatrix);
  $("trials-csv").addEventListener("click", () => saveText(page.table.csv(), `${name}-trials.csv`, "text/csv"));

  const options = study.space.map((p) => el("option", { text: p.name }));
  $("pair-x").replaceChildren(...options);
  $("pair-y").replaceChildren(...options.map((o) => o.cloneNode(true)));
  for (const id of ["pair-x", "pair-y"]) {
    $(id).addEventListener("change", () => {
      page.pairChosen = true;
      renderScatter();
    });
  }
  $("pair-swap").addEventListener("click", () => showPair($("pair-y").value, $("pair-x").value));
  $("pair-fit").addEventListener("change", renderScatter);
  $("pair-section").hidden = study.space.length < 2;

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
    created: Date.parse(l.created_at) / 1000,
    regions: l.box,
    basins: l.basins || [], // coarse-to-fine's other basins: more boxes of the same level
  }));
}

async function loadImportance() {
  try {
    page.importance = await api(`${base}/importance`);
    const { trials, complete, sampled } = page.importance;
    const from = sampled ? `a random sample of ${trials} of the ${complete} complete trials` : `${trials} complete trials`;
    page.importanceNote = `Permutation importance of a random forest fitted to ${from}: the share of the fit each param carries.`;
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "too_few_trials") throw error;
    page.importance = null;
    page.importanceNote = `${error.message}.`;
  }
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
  // Trials, regions and importance change only when counts do; running trials' curves grow regardless.
  const signature = JSON.stringify([study.counts, study.state, study.queued]);
  const changed = signature !== page.signature;
  if (changed) {
    page.trials = await pages(`${base}/trials?order=-number`, "trials", { limit: 1000, max: MAX_TRIALS });
    await loadRegions();
    // The service answers 409 below a handful of complete trials; no need to ask until then.
    if (study.counts.complete > 0) await loadImportance();
    else page.importanceNote = "No complete trials yet.";
  }
  if (changed || page.trials.some((t) => t.state === "running")) page.curves = await loadCurves();
  page.signature = signature; // set last, so a refresh that failed half-way is redone whole
  render();
  document.body.dataset.loaded = "true"; // tests wait for this, not for a spinner
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
}

// -- rendering ----------------------------------------------------------------------------------

/** Param names, the most important first (the space's order until importance is known). */
function ranked() {
  const space = page.study.space.map((p) => p.name);
  if (!page.importance) return space;
  const order = page.importance.params.map((p) => p.param);
  return [...order.filter((n) => space.includes(n)), ...space.filter((n) => !order.includes(n))];
}

function complete() {
  return page.trials.filter((t) => t.state === "complete");
}

function render() {
  const { study, trials } = page;
  renderSummary(study);
  page.timeline.update(page.levels, page.current);
  renderScatter();
  setBest(page.charts.best, complete(), study.direction);
  setCurves(page.charts.curves, page.curves, new Map(trials.map((t) => [t.number, t])));
  $("curves-none").hidden = page.curves.length > 0;
  renderImportance();
  page.table.update(trials, study.counts.total);
  page.table.restrict(page.parallel.brushed());
  renderRegion(study);
  $("pause").disabled = study.state === "paused";
  $("resume").disabled = study.state !== "paused";
  if ($("region-low").value === "") fillRegionInputs();
  if (!$("enqueue-params").value && study.best) {
    $("enqueue-params").value = JSON.stringify(study.best.params, null, 1);
  }
}

/** Everything drawn from the level selection: the pair view, the scatter matrix, the param charts. */
function renderScatter() {
  const ctx = scatterContext(complete(), page.study.direction, page.levels, page.timeline.selected(), page.current);
  if (!page.pairChosen && page.study.space.length >= 2) {
    const [x, y] = ranked();
    $("pair-x").value = x;
    $("pair-y").value = y;
  }
  const byName = new Map(page.study.space.map((p) => [p.name, p]));
  if (page.study.space.length >= 2) {
    const [x, y] = [byName.get($("pair-x").value), byName.get($("pair-y").value)];
    setPair(page.charts.pair, x, y, ctx, { fit: $("pair-fit").checked });
  }
  renderMatrix(ctx, byName);
  for (const chart of page.charts.params) setParam(chart, ctx);
}

function showPair(x, y) {
  page.pairChosen = true;
  $("pair-x").value = x;
  $("pair-y").value = y;
  renderScatter();
  $("pair-section").scrollIntoView({ behavior: "instant", block: "start" });
}

function renderMatrix(ctx, byName) {
  const names = ranked().slice(0, MATRIX_PARAMS);
  const container = $("matrix");
  if (names.join("\n") !== page.matrix.names) {
    for (const cell of page.matrix.cells) cell.pair?.chart.destroy();
    container.style.gridTemplateColumns = `repeat(${names.length}, minmax(0, 1fr))`;
    page.matrix = {
      names: names.join("\n"),
      cells: names.flatMap((y) =>
        names.map((x) => {
          if (x === y) {
            const share = page.importance?.params.find((p) => p.param === x);
            const label = el("div", { className: "cell diagonal" }, [
              el("b", { text: x }),
              el("span", { className: "muted", text: share ? `importance ${fmt(share.importance)}` : "" }),
            ]);
            container.append(label);
            return { x, y, element: label };
          }
          const canvas = el("canvas", { "data-x": x, "data-y": y, "aria-label": `${y} against ${x}` });
          const cell = el("div", { className: "cell", title: `open ${x} × ${y} above` }, [canvas]);
          container.append(cell);
          cell.addEventListener("click", () => showPair(x, y));
          return { x, y, element: cell, pair: pairChart(canvas, { compact: true }) };
        }),
      ),
    };
    container.replaceChildren(...page.matrix.cells.map((c) => c.element));
  }
  for (const cell of page.matrix.cells) if (cell.pair) setPair(cell.pair, byName.get(cell.x), byName.get(cell.y), ctx);
}

/** The scatter matrix as one PNG: each cell's canvas at its place on the page, names on the diagonal. */
function saveMatrix() {
  const box = $("matrix").getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  const canvas = el("canvas");
  canvas.width = Math.round(box.width * ratio);
  canvas.height = Math.round(box.height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, box.width, box.height);
  ctx.fillStyle = "#1f2328";
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (const cell of page.matrix.cells) {
    const at = cell.element.getBoundingClientRect();
    const [left, top] = [at.left - box.left, at.top - box.top];
    if (cell.pair) ctx.drawImage(cell.pair.chart.canvas, left, top, at.width, at.height);
    else ctx.fillText(cell.x, left + at.width / 2, top + at.height / 2);
  }
  pngButton(canvas, `${name}-matrix.png`).click();
}

function renderImportance() {
  $("importance-note").textContent = page.importanceNote;
  setImportance(page.charts.importance, page.importance || { params: [] });
  const byName = new Map(page.study.space.map((p) => [p.name, p]));
  const done = complete();
  const axes = ranked().map((n) => parallelAxis(byName.get(n)));
  if (done.length) axes.push(objectiveAxis(done.map((t) => t.value)));
  const { goodness } = scatterContext(done, page.study.direction, [], [], null);
  page.parallel.set(axes, done, goodness);
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
  const items = facts.flatMap(([term, text]) => [el("dt", { text: term }), el("dd", { text })]);
  if (study.warm_start) items.push(el("dt", { text: "warm start" }), el("dd", {}, warmStart(study)));
  $("summary").replaceChildren(...items);
}

/** Where a warm-started study came from, what became of its configurations, and the way to the
 * compare page on the old study against this one. */
function warmStart(study) {
  const ws = study.warm_start;
  const fate = ws.abandoned
    ? `dropped ${ws.abandoned.dropped} after trial #${ws.abandoned.after_trial}: fresh draws beat them`
    : "not beaten by fresh draws";
  const query = new URLSearchParams([["study", ws.from], ["study", study.name]]);
  return [
    `from ${ws.from}: ${ws.enqueued + (ws.region ? ws.region.configurations : 0)} configurations, ${fate} `,
    el("a", { id: "warm-compare", href: `/compare?${query}`, text: `compare ${ws.from} with ${study.name}` }),
  ];
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
