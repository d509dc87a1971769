// The level timeline: every level of the study, oldest first, with who made it and why, its trial
// counts and best value. Ticking a level draws its region on the charts in a colour of its own.

import { el, fmt } from "./api.js";
import { levelColours } from "./charts.js";

const DEFAULT_SHOWN = 8; // until the user picks, the latest levels: the zoom that is happening now

const when = (seconds) => new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19);

export class LevelTimeline {
  constructor(table, { latest, all, none, count }, onChange) {
    this.table = table;
    this.count = count;
    this.onChange = onChange;
    this.levels = [];
    this.current = null;
    this.picked = null; // the user's selection (a Set of levels) once they touched it
    latest.addEventListener("click", () => this.pick(null));
    all.addEventListener("click", () => this.pick(new Set(this.levels.map((l) => l.level))));
    none.addEventListener("click", () => this.pick(new Set()));
    table.tBodies[0].addEventListener("change", (event) => {
      const box = event.target;
      if (!box.dataset.level) return;
      const picked = new Set(this.selected());
      if (box.checked) picked.add(Number(box.dataset.level));
      else picked.delete(Number(box.dataset.level));
      this.pick(picked);
    });
  }

  /** Levels whose regions are drawn, oldest first. */
  selected() {
    if (this.picked) return this.levels.map((l) => l.level).filter((level) => this.picked.has(level));
    return this.levels.slice(-DEFAULT_SHOWN).map((l) => l.level);
  }

  pick(levels) {
    this.picked = levels;
    this.render();
    this.onChange();
  }

  update(levels, current) {
    this.levels = levels;
    this.current = current;
    this.render();
  }

  render() {
    const selected = this.selected();
    const colours = levelColours(selected);
    const rows = this.levels.map((l) => {
      const box = el("input", { type: "checkbox", "data-level": String(l.level), "aria-label": `draw level ${l.level}` });
      box.checked = colours.has(l.level);
      const swatch = el("span", { className: "swatch" });
      if (colours.has(l.level)) swatch.style.backgroundColor = colours.get(l.level); // CSSOM: the CSP allows it
      const attributes = { "data-level": String(l.level), title: `level ${l.level} began ${when(l.created)} UTC` };
      if (l.level === this.current) attributes.className = "current";
      const row = el("tr", attributes, [
        el("td", {}, [el("label", {}, [box, swatch, String(l.level)])]),
        el("td", { text: l.note ? `${l.reason}: ${l.note}` : l.reason, className: "why" }),
        el("td", { text: `${l.asked} / ${l.finished}`, className: "num" }),
        el("td", { text: fmt(l.best), className: "num" }),
      ]);
      return row;
    });
    this.table.tBodies[0].replaceChildren(...rows);
    this.count.textContent = `${this.levels.length} levels, ${selected.length} drawn`;
  }
}
