// The study page's charts, built on the vendored Chart.js (window.Chart).
//
// A param chart plots the objective against the param on the param's own scale: a log axis for
// `log`, and for `reverse_log` 1 - x on a reversed log axis labelled in x, so beta near 1 gets the
// room the lecture notes give it; for `logit`, log(x / (1 - x)) labelled in x, so both ends do. Points are coloured by coarse-to-fine level and each level's
// region is drawn behind them, as in the notes' zoom-in figure.

import { fmt } from "./api.js";

const { Chart } = window;

const LEVEL_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1", "#edc948", "#9c755f"];
const NO_LEVEL = "#8c8c8c"; // trials with no sampler level: enqueued by hand
const MAX_BANDS = 6; // the latest levels' regions; older ones would bury the points
const PRUNED = "#d62728";
const CURVE_COLOURS = LEVEL_COLOURS.filter((c) => c !== "#e15759"); // red is for pruned

export function levelColour(level) {
  return level === null || level === undefined ? NO_LEVEL : LEVEL_COLOURS[level % LEVEL_COLOURS.length];
}

function translucent(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

// Draws options.plugins.regionBands.bands ({from, to, colour, current} in plot units) across the
// plot: each level's region outlined in its colour, the current one shaded too.
const regionBands = {
  id: "regionBands",
  beforeDatasetsDraw(chart, _args, options) {
    const { ctx, chartArea, scales } = chart;
    ctx.save();
    ctx.beginPath();
    ctx.rect(chartArea.left, chartArea.top, chartArea.width, chartArea.height);
    ctx.clip();
    for (const band of options.bands || []) {
      const a = scales.x.getPixelForValue(band.from);
      const b = scales.x.getPixelForValue(band.to);
      const left = Math.min(a, b);
      const width = Math.max(Math.abs(b - a), 2); // a pinned param is a line, still visible
      if (band.current) {
        ctx.fillStyle = translucent(band.colour, 0.15);
        ctx.fillRect(left, chartArea.top, width, chartArea.height);
      }
      ctx.strokeStyle = translucent(band.colour, 0.8);
      ctx.lineWidth = 1.5;
      ctx.strokeRect(left, chartArea.top, width, chartArea.height);
    }
    ctx.restore();
  },
};
Chart.register(regionBands);

const chartLogLabel = Chart.Ticks.formatters.logarithmic;

/** A log tick's label: Chart.js labels the ends and the 1, 2 and 5 ticks; past three decades only powers of ten. */
function logTick(scale, value, index, ticks, shown = value) {
  if (!chartLogLabel.call(scale, value, index, ticks)) return "";
  const decades = Math.log10(scale.max / scale.min);
  const mantissa = value / 10 ** Math.floor(Math.log10(value) + 1e-9);
  return decades > 3 && Math.abs(mantissa - 1) > 1e-6 ? "" : fmt(shown);
}

/** How a param maps to the x axis: plot coordinate, axis options, and where each region lies. */
function paramAxis(param) {
  if (param.type === "categorical") {
    const labels = param.choices.map(String);
    return {
      // Jitter by trial number so points of one choice spread out instead of stacking.
      toPlot: (value, number) => labels.indexOf(String(value)) + (((number * 0.618) % 1) - 0.5) * 0.5,
      scale: {
        type: "linear",
        min: -0.5,
        max: labels.length - 0.5,
        afterBuildTicks: (axis) => {
          axis.ticks = labels.map((_, i) => ({ value: i }));
        },
        ticks: { callback: (v) => labels[v] ?? "" },
        title: { display: true, text: param.name },
      },
      band: (region) =>
        (region.choices || []).map((choice) => {
          const i = labels.indexOf(String(choice));
          return { from: i - 0.45, to: i + 0.45 };
        }),
    };
  }
  if (param.scale === "reverse_log") {
    const toPlot = (x) => 1 - x;
    return {
      toPlot,
      scale: {
        type: "logarithmic",
        reverse: true, // x grows to the right although 1 - x shrinks
        min: toPlot(param.high),
        max: toPlot(param.low),
        ticks: {
          callback(v, i, ticks) {
            return logTick(this, v, i, ticks, 1 - v);
          },
        },
        title: { display: true, text: `${param.name} (reverse log: 1 − ${param.name} on a log axis)` },
      },
      band: (region) => [{ from: toPlot(region.low), to: toPlot(region.high) }],
    };
  }
  if (param.scale === "logit") {
    const toPlot = (x) => Math.log(x / (1 - x));
    // Ticks at the fractions people name (0.01, 0.1, 0.5, 0.9, 0.99, ...) inside the range, and its ends.
    const named = [1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999];
    const shown = [param.low, ...named.filter((x) => x > param.low && x < param.high), param.high];
    return {
      toPlot,
      scale: {
        type: "linear",
        min: toPlot(param.low),
        max: toPlot(param.high),
        afterBuildTicks: (axis) => {
          axis.ticks = shown.map((x) => ({ value: toPlot(x) }));
        },
        ticks: { callback: (v) => fmt(1 / (1 + Math.exp(-v))) },
        title: { display: true, text: `${param.name} (logit: dense near 0 and 1)` },
      },
      band: (region) => [{ from: toPlot(region.low), to: toPlot(region.high) }],
    };
  }
  const log = param.scale === "log";
  const ticks = log
    ? {
        callback(v, i, all) {
          return logTick(this, v, i, all);
        },
      }
    : { precision: param.type === "int" ? 0 : undefined };
  return {
    toPlot: (x) => x,
    scale: {
      type: log ? "logarithmic" : "linear",
      min: param.low,
      max: param.high,
      ticks,
      title: { display: true, text: log ? `${param.name} (log)` : param.name },
    },
    band: (region) => [{ from: region.low, to: region.high }],
  };
}

function baseOptions(xScale, yTitle) {
  return {
    animation: false,
    maintainAspectRatio: false,
    parsing: false,
    scales: { x: xScale, y: { title: { display: true, text: yTitle } } },
    plugins: { legend: { labels: { boxWidth: 12 } } },
  };
}

/** Each complete trial's value, and the best so far, against trial number. */
export function bestChart(canvas) {
  const options = baseOptions({ type: "linear", title: { display: true, text: "trial number" } }, "objective");
  options.plugins.tooltip = { callbacks: { label: (c) => `#${c.raw.x}: ${fmt(c.raw.y)}` } };
  return new Chart(canvas, {
    type: "scatter",
    data: {
      datasets: [
        { label: "objective", data: [], backgroundColor: translucent(LEVEL_COLOURS[0], 0.5), pointRadius: 3 },
        {
          label: "best so far",
          data: [],
          showLine: true,
          stepped: "before",
          borderColor: PRUNED,
          pointRadius: 0,
          borderWidth: 2,
        },
      ],
    },
    options,
  });
}

export function setBest(chart, trials, direction) {
  const complete = trials.filter((t) => t.state === "complete").sort((a, b) => a.number - b.number);
  const better = direction === "maximize" ? (a, b) => a > b : (a, b) => a < b;
  let best = null;
  chart.data.datasets[0].data = complete.map((t) => ({ x: t.number, y: t.value }));
  chart.data.datasets[1].data = complete.map((t) => {
    if (best === null || better(t.value, best)) best = t.value;
    return { x: t.number, y: best };
  });
  chart.update();
}

/** The objective against one param; returns the chart with the axis it was built on. */
export function paramChart(canvas, param) {
  const axis = paramAxis(param);
  const options = baseOptions(axis.scale, "objective");
  options.plugins.regionBands = { bands: [] };
  options.plugins.legend.display = false; // the levels table beside the charts is the one legend
  options.plugins.tooltip = {
    callbacks: { label: (c) => `#${c.raw.number}: ${param.name} = ${fmt(c.raw.value)}, objective ${fmt(c.raw.y)}` },
  };
  const chart = new Chart(canvas, { type: "scatter", data: { datasets: [] }, options });
  return { chart, axis, param };
}

/** One dataset per level of the complete trials that have this param; the latest levels' regions behind. */
export function setParam({ chart, axis, param }, trials, levels, current) {
  const byLevel = new Map();
  for (const t of trials) {
    if (t.state !== "complete" || !(param.name in t.params)) continue;
    const key = t.level ?? null;
    if (!byLevel.has(key)) byLevel.set(key, []);
    byLevel.get(key).push({
      x: axis.toPlot(t.params[param.name], t.number),
      y: t.value,
      number: t.number,
      value: t.params[param.name],
    });
  }
  const keys = [...byLevel.keys()].sort((a, b) => (a ?? Infinity) - (b ?? Infinity));
  chart.data.datasets = keys.map((level) => ({
    label: level === null ? "enqueued" : `level ${level}`,
    data: byLevel.get(level),
    backgroundColor: levelColour(level),
    pointRadius: 3,
    clip: false, // a point on the range's edge is drawn whole
  }));
  chart.options.plugins.regionBands.bands = levels.slice(-MAX_BANDS).flatMap((l) => {
    const region = l.regions[param.name];
    const colour = levelColour(l.level);
    return region ? axis.band(region).map((b) => ({ ...b, colour, current: l.level === current })) : [];
  });
  chart.update();
}

/** Learning curves, one colour each; pruned trials dashed in red with a cross where they stopped. */
export function curvesChart(canvas) {
  const options = baseOptions({ type: "linear", title: { display: true, text: "step" } }, "reported value");
  options.plugins.tooltip = { callbacks: { label: (c) => `${c.dataset.label}, step ${c.raw.x}: ${fmt(c.raw.y)}` } };
  return new Chart(canvas, { type: "scatter", data: { datasets: [] }, options });
}

export function setCurves(chart, curves, trialsByNumber) {
  chart.data.datasets = curves.map((curve, index) => {
    const trial = trialsByNumber.get(curve.number);
    const pruned = trial && trial.state === "pruned";
    const colour = pruned ? PRUNED : CURVE_COLOURS[index % CURVE_COLOURS.length];
    const last = curve.points.length - 1;
    return {
      label: `#${curve.number}${pruned ? " pruned" : trial ? ` ${trial.state}` : ""}`,
      data: curve.points.map(([step, value]) => ({ x: step, y: value })),
      showLine: true,
      borderColor: pruned ? PRUNED : translucent(colour, 0.7),
      backgroundColor: colour,
      borderDash: pruned ? [6, 4] : [],
      borderWidth: pruned ? 2 : 1.5,
      pointStyle: curve.points.map((_, i) => (pruned && i === last ? "crossRot" : "circle")),
      pointRadius: curve.points.map((_, i) => (pruned && i === last ? 8 : 0)),
      pointBorderWidth: pruned ? 2 : 1,
      pointBorderColor: colour,
    };
  });
  chart.options.plugins.legend.display = chart.data.datasets.length <= 12;
  chart.update();
}
