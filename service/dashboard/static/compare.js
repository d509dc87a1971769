// Two or more studies on one page: their best-so-far curves on one chart, their final regions side
// by side, and a summary row each. The studies come from the page's `?study=` parameters.

import { api, bindToken, el, fmt, pages, poll, setRows } from "./api.js";
import { bestSoFar, compareChart, seriesColour, setCompare } from "./charts.js";
import { pngButton } from "./download.js";
import { paramAxis } from "./parallel.js";

const MAX_TRIALS = 5000; // complete trials per study, oldest first: five pages of JSON
const $ = (id) => document.getElementById(id);

const query = new URLSearchParams(window.location.search);
const names = [...new Set(query.getAll("study").flatMap((s) => s.split(",")).filter(Boolean))];
const chart = names.length ? compareChart($("compare-chart")) : null;

async function load(name) {
  const base = `/v1/studies/${encodeURIComponent(name)}`;
  const study = await api(base);
  const complete = await pages(`${base}/trials?state=complete&order=number`, "trials", { limit: 1000, max: MAX_TRIALS });
  const { current } = await api(`${base}/regions?limit=1`);
  const level = (await api(`${base}/regions?cursor=${current}&limit=1`)).levels[0];
  return { name, study, complete, level };
}

/** A range drawn as a bar over the param's whole range, on the param's own scale. */
function rangeBar(param, region, colour) {
  if (param.type === "categorical") return el("span", { text: region.choices.map(String).join(", ") });
  const axis = paramAxis(param);
  const [a, b] = [axis.toUnit(region.low), axis.toUnit(region.high)];
  const fill = el("span", { className: "fill" });
  fill.style.left = `${(100 * Math.min(a, b)).toFixed(2)}%`; // CSSOM, which the page's CSP allows
  fill.style.width = `${Math.max(100 * Math.abs(b - a), 0.8).toFixed(2)}%`;
  fill.style.backgroundColor = colour;
  return el("div", { className: "range" }, [
    el("span", { className: "bar" }, [fill]),
    el("span", { text: `${fmt(region.low)} – ${fmt(region.high)}` }),
  ]);
}

function renderRegions(loaded) {
  const params = new Map();
  for (const { study } of loaded) for (const p of study.space) if (!params.has(p.name)) params.set(p.name, p);
  const table = $("compare-regions");
  table.tHead.replaceChildren(
    el("tr", {}, [el("th", { text: "param" }), ...loaded.map((s) => el("th", { text: `${s.name} (level ${s.level.level})` }))]),
  );
  setRows(
    table.tBodies[0],
    [...params.values()].map((param) => [
      `${param.name}${param.scale && param.scale !== "linear" ? ` (${param.scale})` : ""}`,
      ...loaded.map((s, i) => {
        const region = s.level.box[param.name];
        return region ? rangeBar(param, region, seriesColour(i)) : "–";
      }),
    ]),
  );
}

function renderSummary(loaded) {
  const table = $("compare-summary");
  const headers = ["study", "direction", "sampler", "complete", "best", "best params", "levels"];
  table.tHead.replaceChildren(el("tr", {}, headers.map((text) => el("th", { text }))));
  setRows(
    table.tBodies[0],
    loaded.map(({ name, study, level }, i) => {
      const swatch = el("span", { className: "swatch" });
      swatch.style.backgroundColor = seriesColour(i);
      const best = study.best;
      return [
        el("span", {}, [swatch, el("a", { text: name, href: `/studies/${encodeURIComponent(name)}` })]),
        study.direction,
        study.sampler.name || "–",
        { text: String(study.counts.complete), className: "num" },
        { text: best ? `${fmt(best.value)} (#${best.number})` : "–", className: "num" },
        best ? Object.entries(best.params).map(([k, v]) => `${k}=${fmt(v)}`).join(", ") : "–",
        { text: String(level.level + 1), className: "num" },
      ];
    }),
  );
}

async function refresh() {
  const loaded = await Promise.all(names.map(load));
  setCompare(
    chart,
    loaded.map(({ name, study, complete }) => ({ label: name, points: bestSoFar(complete, study.direction) })),
  );
  renderRegions(loaded);
  renderSummary(loaded);
  $("compare").hidden = false;
  document.body.dataset.loaded = "true"; // tests wait for this, not for a spinner
}

$("compare-empty").hidden = names.length > 0;
if (names.length) {
  for (const button of document.querySelectorAll("button[data-png]")) {
    button.replaceWith(pngButton($(button.dataset.png), `compare-${names.join("-")}.png`));
  }
  bindToken(poll(refresh, 15000));
} else {
  document.body.dataset.loaded = "true";
}
