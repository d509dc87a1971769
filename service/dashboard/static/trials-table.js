// The trials table: filtered by state and by the parallel-coordinates brushes, sorted by any
// column (click a header; again to reverse), and saved as CSV of exactly what is filtered.

import { el, fmt, setRows } from "./api.js";
import { csvField } from "./download.js";

const MAX_ROWS = 500; // enough to scan by eye; sort or filter to bring others up

const time = (iso) => (iso ? iso.replace("T", " ").slice(0, 19) : null);

function compare(a, b, direction) {
  const blankA = a === null || a === undefined;
  const blankB = b === null || b === undefined;
  if (blankA || blankB) return blankA - blankB; // blanks last either way round
  if (typeof a === "number" && typeof b === "number") return direction * (a - b);
  return direction * String(a).localeCompare(String(b));
}

export class TrialsTable {
  constructor(table, stateSelect, countLabel, params) {
    this.table = table;
    this.stateSelect = stateSelect;
    this.countLabel = countLabel;
    this.trials = [];
    this.total = 0;
    this.only = null; // numbers brushed in the parallel coordinates; null: no brush
    this.sort = { key: "number", descending: true };
    this.columns = [
      { key: "number", label: "#", get: (t) => t.number, num: true },
      { key: "state", label: "state", get: (t) => t.state },
      { key: "value", label: "value", get: (t) => t.value, num: true },
      { key: "level", label: "level", get: (t) => t.level, num: true },
      { key: "source", label: "source", get: (t) => t.source },
      ...params.map((p) => ({
        key: `param:${p.name}`,
        label: p.name,
        get: (t) => t.params[p.name],
        num: p.type !== "categorical",
      })),
      { key: "asked_at", label: "asked (UTC)", get: (t) => time(t.asked_at) },
      { key: "finished_at", label: "finished (UTC)", get: (t) => time(t.finished_at) },
      { key: "note", label: "note", get: (t) => t.note },
    ];
    const header = el(
      "tr",
      {},
      this.columns.map((c) => el("th", { text: c.label, "data-key": c.key, className: c.num ? "num" : "" })),
    );
    header.addEventListener("click", (event) => {
      const key = event.target.dataset.key;
      if (!key) return;
      this.sort = { key, descending: this.sort.key === key && !this.sort.descending };
      this.render();
    });
    table.tHead.append(header);
    stateSelect.addEventListener("change", () => this.render());
  }

  /** New data: the latest trials, and how many the study has in all. */
  update(trials, total) {
    this.trials = trials;
    this.total = total;
    this.render();
  }

  /** Show only these trial numbers (a Set), or every trial again (null). */
  restrict(numbers) {
    this.only = numbers;
    this.render();
  }

  /** The trials the filters let through, in the table's order. */
  shown() {
    const column = this.columns.find((c) => c.key === this.sort.key);
    const state = this.stateSelect.value;
    const shown = this.trials.filter((t) => (!state || t.state === state) && (!this.only || this.only.has(t.number)));
    const direction = this.sort.descending ? -1 : 1;
    return shown.sort((a, b) => compare(column.get(a), column.get(b), direction));
  }

  /** Every filtered trial (not only the rows drawn) as CSV, one column per table column. */
  csv() {
    const lines = [this.columns.map((c) => csvField(c.label)).join(",")];
    for (const t of this.shown()) lines.push(this.columns.map((c) => csvField(c.get(t))).join(","));
    return `${lines.join("\r\n")}\r\n`;
  }

  render() {
    const column = this.columns.find((c) => c.key === this.sort.key);
    const shown = this.shown();
    for (const th of this.table.tHead.rows[0].cells) {
      const sorted = th.dataset.key === column.key;
      th.setAttribute("aria-sort", sorted ? (this.sort.descending ? "descending" : "ascending") : "none");
    }
    setRows(
      this.table.tBodies[0],
      shown.slice(0, MAX_ROWS).map((t) =>
        this.columns.map((c) => {
          const value = c.get(t);
          const text = value === undefined ? "" : fmt(value);
          if (c.key === "state") return { text, className: `badge ${value}` };
          return c.num ? { text, className: "num" } : text;
        }),
      ),
    );
    const of =
      this.trials.length < this.total
        ? ` (table and charts hold the latest ${this.trials.length} of ${this.total})`
        : "";
    const cut = shown.length > MAX_ROWS ? `first ${MAX_ROWS} of ` : "";
    const brushed = this.only ? " brushed in the parallel coordinates" : "";
    this.countLabel.textContent = `${cut}${shown.length} trials${brushed}${of}`;
  }
}
