// The dashboard's charts, built on the vendored Chart.js (window.Chart).
//
// Every param is drawn on its own scale: a log axis for `log`, for `reverse_log` 1 - x on a
// reversed log axis labelled in x, so beta near 1 gets the room the lecture notes give it, and for
// `logit` log(x / (1 - x)) labelled in x, so both ends do; categoricals are bands. Int and
// categorical points are jittered so equal values do not stack. Each selected level's region is
// drawn as a box, the current one filled: the notes' zoom figure.

import { fmt } from "./api.js";

const { Chart } = window;

// Tableau 10: distinct at a glance; past ten selected levels, hues are spread evenly instead.
const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf",
]; // prettier-ignore
const OTHER_LEVEL = "#b8bec5"; // points of levels not selected in the timeline
const ENQUEUED = "#3d434a"; // trials with no sampler level: enqueued by hand
const PRUNED = "#d62728";
const CURVE_COLOURS = PALETTE.filter((c) => c !== "#e15759"); // red is for pruned
const DECADES_FOR_LOG = 2; // an objective spanning more than this many decades gets a log axis
const MAX_JITTERED_INTS = 100; // an int param with more values than this does not stack anyway
// Weyl sequences of two irrationals: the x and y jitter of one trial are spread independently.
const JITTER_X = 0.6180339887;
const JITTER_Y = 0.7548776662;

/** One colour per shown level, none repeated: the palette in order, or evenly spaced hues past it. */
export function levelColours(levels) {
  const sorted = [...levels].sort((a, b) => a - b);
  const colour = (i) =>
    sorted.length <= PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 360) / sorted.length)}, 62%, 46%)`;
  return new Map(sorted.map((level, i) => [level, colour(i)]));
}

export function seriesColour(index) {
  return CURVE_COLOURS[index % CURVE_COLOURS.length];
}

/** `colour` ("#rrggbb" or "hsl(...)") at opacity `alpha`. */
function translucent(colour, alpha) {
  if (colour.startsWith("hsl(")) return colour.replace("hsl(", "hsla(").replace(")", `, ${alpha})`);
  const n = parseInt(colour.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

// Draws options.plugins.regionBoxes.boxes ({x, y, colour, current, level}; x and y are [from, to]
// in plot units, or null for the whole axis) behind the points, and records what it drew in
// chart.$boxes (rectangles per level) so a test can check the picture, not only the data.
const regionBoxes = {
  id: "regionBoxes",
  beforeDatasetsDraw(chart, _args, options) {
    const { ctx, chartArea, scales } = chart;
    const drawn = new Map();
    ctx.save();
    ctx.beginPath();
    ctx.rect(chartArea.left, chartArea.top, chartArea.width, chartArea.height);
    ctx.clip();
    const span = (scale, range, start, size) => {
      if (!range) return [start, size];
      const a = scale.getPixelForValue(range[0]);
      const b = scale.getPixelForValue(range[1]);
      return [Math.min(a, b), Math.max(Math.abs(b - a), 2)]; // a pinned param is a line, still visible
    };
    for (const box of options.boxes || []) {
      const [left, width] = span(scales.x, box.x, chartArea.left, chartArea.width);
      const [top, height] = span(scales.y, box.y, chartArea.top, chartArea.height);
      if (box.current) {
        ctx.fillStyle = translucent(box.colour, 0.1);
        ctx.fillRect(left, top, width, height);
      }
      ctx.strokeStyle = translucent(box.colour, 0.9);
      ctx.lineWidth = box.current ? 2.5 : 1.5;
      ctx.strokeRect(left, top, width, height);
      drawn.set(box.level, (drawn.get(box.level) || 0) + 1);
    }
    ctx.restore();
    chart.$boxes = Object.fromEntries(drawn);
  },
};

// A white canvas behind every chart, so a downloaded PNG is not transparent.
const whiteBackground = {
  id: "whiteBackground",
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};
Chart.register(regionBoxes, whiteBackground);

const chartLogLabel = Chart.Ticks.formatters.logarithmic;

/** A log tick's label: Chart.js labels the ends and the 1, 2 and 5 ticks; past three decades only powers of ten. */
function logTick(scale, value, index, ticks, shown = value) {
  if (!chartLogLabel.call(scale, value, index, ticks)) return "";
  const decades = Math.log10(scale.max / scale.min);
  const mantissa = value / 10 ** Math.floor(Math.log10(value) + 1e-9);
  return decades > 3 && Math.abs(mantissa - 1) > 1e-6 ? "" : fmt(shown);
}

const jitter = (number, seed) => ((number * seed) % 1) - 0.5;

/** Kept choices as bands: neighbouring kept choices make one band. */
function choiceBands(labels, choices) {
  const kept = (choices || []).map((c) => labels.indexOf(String(c))).filter((i) => i >= 0);
  kept.sort((a, b) => a - b);
  const runs = [];
  for (const i of kept) {
    const last = runs[runs.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else runs.push([i, i]);
  }
  return runs.map(([first, last]) => [first - 0.45, last + 0.45]);
}

/**
 * How a param maps to an axis: `toPlot(value, number)` (the trial number seeds the jitter),
 * Chart.js scale options, and `bands(region)`: where a level's region lies, in plot units.
 */
export function paramAxis(param, { seed = JITTER_X, title = true } = {}) {
  const titled = (text) => ({ display: title, text });
  if (param.type === "categorical") {
    const labels = param.choices.map(String);
    return {
      toPlot: (value, number) => labels.indexOf(String(value)) + jitter(number, seed) * 0.5,
      scale: {
        type: "linear",
        min: -0.5,
        max: labels.length - 0.5,
        afterBuildTicks: (axis) => {
          axis.ticks = labels.map((_, i) => ({ value: i }));
        },
        ticks: { callback: (v) => labels[v] ?? "" },
        title: titled(param.name),
      },
      bands: (region) => choiceBands(labels, region.choices),
    };
  }
  if (param.scale === "reverse_log") {
    const toPlot = (x) => 1 - x;
    return {
      toPlot,
      scale: {
        type: "logarithmic",
        reverse: true, // x grows to the right (or up) although 1 - x shrinks
        min: toPlot(param.high),
        max: toPlot(param.low),
        ticks: {
          callback(v, i, ticks) {
            return logTick(this, v, i, ticks, 1 - v);
          },
        },
        title: titled(`${param.name} (reverse log: 1 − ${param.name} on a log axis)`),
      },
      bands: (region) => [[toPlot(region.low), toPlot(region.high)]],
    };
  }
  if (param.scale === "logit") {
    const toPlot = (x) => Math.log(x / (1 - x));
    // Ticks at the fractions people name (0.01, 0.1, 0.5, 0.9, 0.99, ...) inside the axis, and its
    // ends; the axis, not the param, since "Zoom to the boxes" narrows it.
    const named = [1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999].map(toPlot);
    return {
      toPlot,
      scale: {
        type: "linear",
        min: toPlot(param.low),
        max: toPlot(param.high),
        afterBuildTicks: (axis) => {
          const inside = named.filter((v) => v > axis.min && v < axis.max);
          axis.ticks = [axis.min, ...inside, axis.max].map((value) => ({ value }));
        },
        ticks: { callback: (v) => fmt(1 / (1 + Math.exp(-v))) },
        title: titled(`${param.name} (logit: dense near 0 and 1)`),
      },
      bands: (region) => [[toPlot(region.low), toPlot(region.high)]],
    };
  }
  const log = param.scale === "log";
  const jittered = param.type === "int" && param.high - param.low <= MAX_JITTERED_INTS;
  const pad = jittered ? 0.5 : 0;
  const ticks = log
    ? {
        callback(v, i, all) {
          return logTick(this, v, i, all);
        },
      }
    : { precision: param.type === "int" ? 0 : undefined };
  return {
    toPlot: jittered ? (x, number) => x + jitter(number, seed) * 0.6 : (x) => x,
    scale: {
      type: log ? "logarithmic" : "linear",
      min: param.low - pad,
      max: param.high + pad,
      ticks,
      title: titled(log ? `${param.name} (log)` : param.name),
    },
    bands: (region) => [[region.low - pad * 0.9, region.high + pad * 0.9]],
  };
}

/** A y axis for objective values: logarithmic when they are all positive and span decades. */
function objectiveScale(values, text = "objective") {
  const finite = values.filter((v) => Number.isFinite(v));
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  const log = finite.length > 1 && low > 0 && Math.log10(high / low) > DECADES_FOR_LOG;
  const scale = { type: log ? "logarithmic" : "linear", title: { display: true, text: log ? `${text} (log)` : text } };
  if (log) {
    scale.ticks = {
      callback(v, i, all) {
        return logTick(this, v, i, all);
      },
    };
  }
  return scale;
}

/** A chart that can be rebuilt on new scales: Chart.js resolves scale options once, when built. */
function build(canvas, type, options, data = { datasets: [] }) {
  const chart = new Chart(canvas, { type, data, options });
  chart.$options = options;
  return chart;
}

/**
 * `holder.chart` on these scales: the same chart while `key` (what the scales depend on) is
 * unchanged, else a new one on the same canvas with the same data.
 */
function onScales(holder, scales, key) {
  const { chart } = holder;
  if (chart.$scalesKey === key) return chart;
  const options = { ...chart.$options, scales };
  const { type } = chart.config;
  const { canvas, data } = chart;
  chart.destroy();
  holder.chart = build(canvas, type, options, data);
  holder.chart.$scalesKey = key;
  return holder.chart;
}

function baseOptions(xScale, yScale) {
  return {
    animation: false,
    maintainAspectRatio: false,
    parsing: false,
    scales: { x: xScale, y: yScale },
    plugins: { legend: { labels: { boxWidth: 12 } } },
  };
}

/** Each complete trial's value, and the best so far, against trial number. */
export function bestChart(canvas) {
  const options = baseOptions({ type: "linear", title: { display: true, text: "trial number" } }, objectiveScale([]));
  options.plugins.tooltip = { callbacks: { label: (c) => `#${c.raw.x}: ${fmt(c.raw.y)}` } };
  const chart = build(canvas, "scatter", options, {
    datasets: [
        { label: "objective", data: [], backgroundColor: translucent(PALETTE[0], 0.5), pointRadius: 3 },
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
  });
  return { chart };
}

/** Best so far after each complete trial, in trial-number order: [{x: number, y: best}]. */
export function bestSoFar(complete, direction) {
  const better = direction === "maximize" ? (a, b) => a > b : (a, b) => a < b;
  let best = null;
  return [...complete]
    .sort((a, b) => a.number - b.number)
    .map((t) => {
      if (best === null || better(t.value, best)) best = t.value;
      return { x: t.number, y: best };
    });
}

/** The y axis of `holder.chart` for these objective values, keeping its x axis. */
function onObjective(holder, values, text) {
  const y = objectiveScale(values, text);
  return onScales(holder, { x: holder.chart.$options.scales.x, y }, y.type);
}

export function setBest(holder, complete, direction) {
  const chart = onObjective(holder, complete.map((t) => t.value));
  chart.data.datasets[0].data = complete.map((t) => ({ x: t.number, y: t.value }));
  chart.data.datasets[1].data = bestSoFar(complete, direction);
  chart.update();
}

/**
 * What the scatter charts share for one render: the complete trials, each one's goodness (1 for
 * the best, 0 for the worst), the colour of each selected level, the selected levels with their
 * regions, and the current level.
 */
export function scatterContext(complete, direction, levels, selected, current) {
  const sorted = [...complete].sort((a, b) => (direction === "maximize" ? b.value - a.value : a.value - b.value));
  const goodness = new Map(sorted.map((t, i) => [t.number, sorted.length > 1 ? 1 - i / (sorted.length - 1) : 1]));
  const colours = levelColours(selected);
  return { complete, goodness, colours, levels: levels.filter((l) => colours.has(l.level)), current };
}

function pointColour(ctx, trial, shaded) {
  const level = trial.level ?? null;
  const colour = level === null ? ENQUEUED : ctx.colours.get(level) || OTHER_LEVEL;
  const alpha = shaded ? 0.25 + 0.75 * ctx.goodness.get(trial.number) : 0.85;
  return translucent(colour, colour === OTHER_LEVEL ? Math.min(alpha, 0.6) : alpha);
}

/** Datasets of points grouped by how they are coloured: each selected level, the rest, the enqueued. */
function groupedPoints(ctx, trials, toPoint, shaded) {
  const groups = new Map();
  for (const t of trials) {
    const level = t.level ?? null;
    const key = level === null ? "enqueued" : ctx.colours.has(level) ? `level ${level}` : "other levels";
    if (!groups.has(key)) groups.set(key, { label: key, data: [], backgroundColor: [], order: ctx.colours.has(level) ? 0 : 1 });
    const group = groups.get(key);
    group.data.push(toPoint(t));
    group.backgroundColor.push(pointColour(ctx, t, shaded));
  }
  return [...groups.values()].map((g) => ({ ...g, pointRadius: 3, pointBorderWidth: 0, clip: false }));
}

/** The objective against one param. */
export function paramChart(canvas, param) {
  const axis = paramAxis(param);
  const options = baseOptions(axis.scale, objectiveScale([]));
  options.plugins.regionBoxes = { boxes: [] };
  options.plugins.legend.display = false; // the level timeline is the one legend
  options.plugins.tooltip = {
    callbacks: { label: (c) => `#${c.raw.number}: ${param.name} = ${fmt(c.raw.value)}, objective ${fmt(c.raw.y)}` },
  };
  return { chart: build(canvas, "scatter", options), axis, param };
}

export function setParam(holder, ctx) {
  const { axis, param } = holder;
  const trials = ctx.complete.filter((t) => param.name in t.params);
  const chart = onObjective(holder, trials.map((t) => t.value));
  chart.data.datasets = groupedPoints(
    ctx,
    trials,
    (t) => ({ x: axis.toPlot(t.params[param.name], t.number), y: t.value, number: t.number, value: t.params[param.name] }),
    false,
  );
  chart.options.plugins.regionBoxes.boxes = ctx.levels.flatMap((l) => {
    const colour = ctx.colours.get(l.level);
    return [l.regions, ...(l.basins || [])].flatMap((regions) => {
      const region = regions[param.name];
      return region ? axis.bands(region).map((x) => ({ x, y: null, colour, current: l.level === ctx.current, level: l.level })) : [];
    });
  });
  chart.update();
}

/** Two params against each other: the notes' zoom figure. `compact` for a scatter-matrix cell. */
export function pairChart(canvas, { compact = false } = {}) {
  const options = baseOptions({}, {});
  options.plugins.regionBoxes = { boxes: [] };
  options.plugins.legend.display = false;
  if (compact) {
    options.plugins.tooltip = { enabled: false };
    options.events = ["click"];
  } else {
    options.plugins.tooltip = {
      callbacks: {
        label: (c) => {
          const [x, y] = c.chart.$names;
          return `#${c.raw.number}: ${x} = ${fmt(c.raw.vx)}, ${y} = ${fmt(c.raw.vy)}, objective ${fmt(c.raw.value)}`;
        },
      },
    };
  }
  return { chart: build(canvas, "scatter", options), compact };
}

/**
 * The part of an axis that holds these ranges (plot units), with a margin; null when they span
 * the whole axis anyway. Ranges covering (nearly) the whole axis, a restart's, are left out.
 */
function fitted(scale, ranges) {
  const log = scale.type === "logarithmic";
  const at = (v) => (log ? Math.log(v) : v);
  const back = (u) => (log ? Math.exp(u) : u);
  const [low, high] = [at(scale.min), at(scale.max)];
  const inner = ranges.map((r) => [at(Math.min(...r)), at(Math.max(...r))]).filter(([a, b]) => b - a < 0.95 * (high - low));
  if (!inner.length) return null;
  const from = Math.min(...inner.map((r) => r[0]));
  const to = Math.max(...inner.map((r) => r[1]));
  const margin = Math.max((to - from) * 0.35, (high - low) * 0.01);
  return [back(Math.max(low, from - margin)), back(Math.min(high, to + margin))];
}

/** Two params against each other; `fit` zooms the axes to the drawn boxes. */
export function setPair(pair, xParam, yParam, ctx, { fit = false } = {}) {
  const { compact } = pair;
  const xAxis = paramAxis(xParam, { seed: JITTER_X, title: !compact });
  const yAxis = paramAxis(yParam, { seed: JITTER_Y, title: !compact });
  if (compact) {
    for (const scale of [xAxis.scale, yAxis.scale]) Object.assign(scale.ticks, { font: { size: 9 }, maxTicksLimit: 4 });
  }
  const boxes = ctx.levels.flatMap((l) => {
    const colour = ctx.colours.get(l.level);
    const current = l.level === ctx.current;
    // A level with several basins draws a box around each, in the level's colour.
    return [l.regions, ...(l.basins || [])].flatMap((regions) => {
      const rx = regions[xParam.name];
      const ry = regions[yParam.name];
      if (!rx || !ry) return [];
      return xAxis.bands(rx).flatMap((x) => yAxis.bands(ry).map((y) => ({ x, y, colour, current, level: l.level })));
    });
  });
  let key = `${xParam.name}\n${yParam.name}`;
  if (fit) {
    const categorical = { x: xParam.type === "categorical", y: yParam.type === "categorical" };
    for (const [axis, scale] of [["x", xAxis.scale], ["y", yAxis.scale]]) {
      const range = categorical[axis] ? null : fitted(scale, boxes.map((b) => b[axis]));
      if (range) [scale.min, scale.max] = range;
      key += `\n${range}`;
    }
  }
  const chart = onScales(pair, { x: xAxis.scale, y: yAxis.scale }, key);
  chart.$names = [xParam.name, yParam.name];
  const trials = ctx.complete.filter((t) => xParam.name in t.params && yParam.name in t.params);
  chart.data.datasets = groupedPoints(
    ctx,
    trials,
    (t) => ({
      x: xAxis.toPlot(t.params[xParam.name], t.number),
      y: yAxis.toPlot(t.params[yParam.name], t.number),
      number: t.number,
      vx: t.params[xParam.name],
      vy: t.params[yParam.name],
      value: t.value,
    }),
    true,
  );
  for (const d of chart.data.datasets) {
    if (compact) d.pointRadius = 1.6;
    if (fit) d.clip = true; // points outside the zoomed axes are not drawn over them
  }
  chart.options.plugins.regionBoxes.boxes = boxes;
  chart.update();
}

/** Each param's share of the importance, most important on top. */
export function importanceChart(canvas) {
  const options = {
    animation: false,
    maintainAspectRatio: false,
    indexAxis: "y",
    scales: { x: { min: 0, max: 1, title: { display: true, text: "share of importance" } } },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { label: (c) => `${fmt(c.raw)} (R² drop ${fmt(c.chart.$scores[c.dataIndex])})` } },
    },
  };
  const data = { labels: [], datasets: [{ label: "importance", data: [], backgroundColor: PALETTE[0] }] };
  return build(canvas, "bar", options, data);
}

export function setImportance(chart, answer) {
  chart.data.labels = answer.params.map((p) => p.param);
  chart.data.datasets[0].data = answer.params.map((p) => p.importance);
  chart.$scores = answer.params.map((p) => p.score);
  chart.update();
}

/** Learning curves, one colour each; pruned trials dashed in red with a cross where they stopped. */
export function curvesChart(canvas) {
  const options = baseOptions(
    { type: "linear", title: { display: true, text: "step" } },
    { title: { display: true, text: "reported value" } },
  );
  options.plugins.tooltip = { callbacks: { label: (c) => `${c.dataset.label}, step ${c.raw.x}: ${fmt(c.raw.y)}` } };
  return build(canvas, "scatter", options);
}

export function setCurves(chart, curves, trialsByNumber) {
  chart.data.datasets = curves.map((curve, index) => {
    const trial = trialsByNumber.get(curve.number);
    const pruned = trial && trial.state === "pruned";
    const colour = pruned ? PRUNED : seriesColour(index);
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

/** Best-so-far curves of several studies on one chart (compare page). */
export function compareChart(canvas) {
  const options = baseOptions({ type: "linear", title: { display: true, text: "trial number" } }, objectiveScale([]));
  options.plugins.tooltip = { callbacks: { label: (c) => `${c.dataset.label} #${c.raw.x}: ${fmt(c.raw.y)}` } };
  return { chart: build(canvas, "scatter", options) };
}

export function setCompare(holder, series) {
  const chart = onObjective(holder, series.flatMap((s) => s.points.map((p) => p.y)), "best so far");
  chart.data.datasets = series.map((s, i) => ({
    label: s.label,
    data: s.points,
    showLine: true,
    stepped: "before",
    borderColor: seriesColour(i),
    backgroundColor: seriesColour(i),
    pointRadius: 0,
    borderWidth: 2,
  }));
  chart.update();
}
