// Parallel coordinates: one vertical axis per param (most important first) and one for the
// objective, one line per complete trial. Drag along an axis to brush a range; the trials inside
// every brush stay coloured and are handed to `onBrush` (the trials table shows only them). A click
// on an axis without dragging clears its brush. Chart.js has no such chart; this is a plain canvas.

import { fmt } from "./api.js";

const PAD = { top: 34, right: 56, bottom: 40, left: 56 };
const INACTIVE_GAP = 18; // below an axis: where a trial whose param was inactive is drawn
const GRAB_PX = 16; // how near an axis a drag must start to brush it
const TICKS = [0, 0.25, 0.5, 0.75, 1];

/** An axis over [low, high] on a scale: unit <-> value. */
function scaled(low, high, scale) {
  if (scale === "log") {
    const [a, b] = [Math.log(low), Math.log(high)];
    return { toUnit: (v) => (Math.log(v) - a) / (b - a), fromUnit: (u) => Math.exp(a + u * (b - a)) };
  }
  if (scale === "reverse_log") {
    const [a, b] = [Math.log1p(-low), Math.log1p(-high)];
    return { toUnit: (v) => (Math.log1p(-v) - a) / (b - a), fromUnit: (u) => 1 - Math.exp(a + u * (b - a)) };
  }
  if (scale === "logit") {
    const logit = (v) => Math.log(v / (1 - v));
    const [a, b] = [logit(low), logit(high)];
    return { toUnit: (v) => (logit(v) - a) / (b - a), fromUnit: (u) => 1 / (1 + Math.exp(-(a + u * (b - a)))) };
  }
  const span = high - low || 1;
  return { toUnit: (v) => (v - low) / span, fromUnit: (u) => low + u * span };
}

/** The axis of one param of the space. */
export function paramAxis(param) {
  if (param.type === "categorical") {
    const labels = param.choices.map(String);
    const last = Math.max(labels.length - 1, 1);
    return {
      name: param.name,
      label: param.name,
      get: (t) => t.params[param.name],
      toUnit: (v) => (labels.length === 1 ? 0.5 : labels.indexOf(String(v)) / last),
      fromUnit: (u) => labels[Math.round(u * last)],
      ticks: labels.map((text, i) => ({ at: labels.length === 1 ? 0.5 : i / last, text })),
      categorical: true,
      conditional: Boolean(param.condition),
    };
  }
  const { toUnit, fromUnit } = scaled(param.low, param.high, param.scale);
  return {
    name: param.name,
    label: param.scale && param.scale !== "linear" ? `${param.name} (${param.scale})` : param.name,
    get: (t) => t.params[param.name],
    toUnit,
    fromUnit,
    ticks: TICKS.map((at) => ({ at, text: fmt(fromUnit(at)) })),
    conditional: Boolean(param.condition),
  };
}

/** The objective's axis over the values shown; log when they are positive and span decades. */
export function objectiveAxis(values) {
  const low = Math.min(...values);
  const high = Math.max(...values);
  const log = low > 0 && Math.log10(high / low) > 2;
  const { toUnit, fromUnit } = scaled(low, high === low ? low + 1 : high, log ? "log" : "linear");
  return {
    name: "objective",
    label: log ? "objective (log)" : "objective",
    get: (t) => t.value,
    toUnit,
    fromUnit,
    ticks: TICKS.map((at) => ({ at, text: fmt(fromUnit(at)) })),
  };
}

export class ParallelCoordinates {
  constructor(canvas, onBrush) {
    this.canvas = canvas;
    this.onBrush = onBrush;
    this.axes = [];
    this.trials = [];
    this.goodness = new Map();
    this.brushes = new Map(); // axis name -> [u0, u1], u0 < u1
    this.drag = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    new ResizeObserver(() => this.render()).observe(canvas);
  }

  /** New data: axes left to right, the complete trials, and each one's goodness (1 = best). */
  set(axes, trials, goodness) {
    const names = new Set(axes.map((a) => a.name));
    for (const name of this.brushes.keys()) if (!names.has(name)) this.brushes.delete(name);
    this.axes = axes;
    this.trials = trials;
    this.goodness = goodness;
    this.render();
  }

  /** Numbers of the trials inside every brush; null while nothing is brushed. */
  brushed() {
    if (this.brushes.size === 0) return null;
    const inside = this.trials.filter((t) =>
      [...this.brushes].every(([name, [u0, u1]]) => {
        const axis = this.axes.find((a) => a.name === name);
        const value = axis.get(t);
        if (value === undefined) return false;
        const u = axis.toUnit(value);
        return u >= u0 - 1e-9 && u <= u1 + 1e-9;
      }),
    );
    return new Set(inside.map((t) => t.number));
  }

  clear() {
    this.brushes.clear();
    this.render();
    this.onBrush(null);
  }

  // -- geometry ---------------------------------------------------------------------------------

  layout() {
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    const top = PAD.top;
    const bottom = height - PAD.bottom - INACTIVE_GAP;
    const span = width - PAD.left - PAD.right;
    const xs = this.axes.map((_, i) => PAD.left + (this.axes.length > 1 ? (i * span) / (this.axes.length - 1) : span / 2));
    return { width, height, top, bottom, xs };
  }

  unitAt(y, { top, bottom }) {
    return Math.min(Math.max((bottom - y) / (bottom - top), 0), 1);
  }

  // -- brushing ---------------------------------------------------------------------------------

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  down(event) {
    const { x, y } = this.point(event);
    const geometry = this.layout();
    const index = geometry.xs.findIndex((ax) => Math.abs(ax - x) <= GRAB_PX);
    if (index < 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    this.drag = { axis: this.axes[index].name, from: y, to: y, geometry };
  }

  move(event) {
    if (!this.drag) return;
    this.drag.to = this.point(event).y;
    this.setBrushFromDrag();
    this.render();
  }

  up(event) {
    if (!this.drag) return;
    this.drag.to = this.point(event).y;
    if (Math.abs(this.drag.to - this.drag.from) < 3) this.brushes.delete(this.drag.axis);
    else this.setBrushFromDrag();
    this.drag = null;
    this.render();
    this.onBrush(this.brushed());
  }

  setBrushFromDrag() {
    const { axis, from, to, geometry } = this.drag;
    const a = this.unitAt(from, geometry);
    const b = this.unitAt(to, geometry);
    this.brushes.set(axis, [Math.min(a, b), Math.max(a, b)]);
  }

  // -- drawing ----------------------------------------------------------------------------------

  render() {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const geometry = this.layout();
    const { width, height, top, bottom, xs } = geometry;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    const brushed = this.brushed();
    const yOf = (axis, t) => {
      const value = axis.get(t);
      return value === undefined ? bottom + INACTIVE_GAP : bottom - axis.toUnit(value) * (bottom - top);
    };
    const line = (t) => {
      ctx.beginPath();
      this.axes.forEach((axis, i) => (i ? ctx.lineTo(xs[i], yOf(axis, t)) : ctx.moveTo(xs[i], yOf(axis, t))));
      ctx.stroke();
    };
    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(170, 176, 184, 0.35)";
    const inside = [];
    for (const t of this.trials) {
      if (brushed && !brushed.has(t.number)) line(t);
      else inside.push(t);
    }
    // Worst first, so the best lines are drawn on top.
    inside.sort((a, b) => this.goodness.get(a.number) - this.goodness.get(b.number));
    for (const t of inside) {
      const g = this.goodness.get(t.number) ?? 0;
      ctx.strokeStyle = `hsla(${Math.round(28 + 180 * g)}, 70%, ${Math.round(52 - 14 * g)}%, ${0.35 + 0.5 * g})`;
      line(t);
    }
    this.drawAxes(ctx, geometry);
    canvas.dataset.axes = JSON.stringify(this.axes.map((a, i) => ({ name: a.name, x: xs[i] })));
    canvas.dataset.plot = JSON.stringify({ top, bottom, width, height });
    canvas.dataset.brushes = JSON.stringify(
      Object.fromEntries(
        [...this.brushes].map(([name, [u0, u1]]) => {
          const axis = this.axes.find((a) => a.name === name);
          return [name, axis.categorical ? [u0, u1] : [axis.fromUnit(u0), axis.fromUnit(u1)]];
        }),
      ),
    );
  }

  drawAxes(ctx, { top, bottom, xs }) {
    ctx.font = "11px system-ui, sans-serif";
    this.axes.forEach((axis, i) => {
      const x = xs[i];
      ctx.strokeStyle = "#59616a";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.fillStyle = "#1f2328";
      ctx.textAlign = "center";
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.fillText(axis.label, x, top - 14);
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = "#59616a";
      if (axis.conditional) ctx.fillText("inactive", x, bottom + INACTIVE_GAP + 14);
      ctx.textAlign = "right";
      for (const tick of axis.ticks) {
        const y = bottom - tick.at * (bottom - top);
        ctx.fillText(tick.text, x - 5, y + 4);
        ctx.beginPath();
        ctx.moveTo(x - 3, y);
        ctx.lineTo(x, y);
        ctx.stroke();
      }
      const brush = this.brushes.get(axis.name);
      if (brush) {
        const [y1, y0] = brush.map((u) => bottom - u * (bottom - top));
        ctx.fillStyle = "rgba(78, 121, 167, 0.25)";
        ctx.strokeStyle = "#4e79a7";
        ctx.fillRect(x - 8, y1, 16, y0 - y1);
        ctx.strokeRect(x - 8, y1, 16, y0 - y1);
      }
    });
  }
}
