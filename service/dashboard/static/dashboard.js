// The study list: every study with its state, trial counts and best value, refreshed while trials arrive.

import { bindToken, el, fmt, pages, poll, setRows } from "./api.js";

const MAX_STUDIES = 1000; // one screen of a study list is a few dozen; this keeps a poll a few requests

function studyRow(study) {
  const counts = study.counts;
  const num = (text) => ({ text: String(text), className: "num" });
  return [
    el("a", { text: study.name, href: `/studies/${encodeURIComponent(study.name)}` }),
    { text: study.state, className: `badge ${study.state}` },
    study.direction,
    study.sampler.name || "–",
    num(counts.running),
    num(counts.complete),
    num(counts.pruned),
    num(counts.failed),
    num(counts.expired),
    num(counts.total),
    num(fmt(study.best && study.best.value)),
    num(study.best ? `#${study.best.number}` : "–"),
    study.note || "",
    el("input", { type: "checkbox", "data-study": study.name, "aria-label": `compare ${study.name}` }),
  ];
}

const ticked = new Set(); // kept across refreshes, which redraw the rows

function showCompareLink() {
  const link = document.getElementById("compare-selected");
  const query = [...ticked].map((name) => `study=${encodeURIComponent(name)}`).join("&");
  link.href = `/compare?${query}`;
  link.hidden = ticked.size < 2;
}

document.querySelector("#studies tbody").addEventListener("change", (event) => {
  const name = event.target.dataset.study;
  if (!name) return;
  if (event.target.checked) ticked.add(name);
  else ticked.delete(name);
  showCompareLink();
});

async function refresh() {
  const items = await pages("/v1/studies", "studies", { limit: 100, max: MAX_STUDIES });
  setRows(document.querySelector("#studies tbody"), items.map(studyRow));
  for (const box of document.querySelectorAll("#studies input[data-study]")) box.checked = ticked.has(box.dataset.study);
  document.getElementById("empty").hidden = items.length > 0;
  document.body.dataset.loaded = "true"; // tests wait for this, not for a spinner
}

bindToken(poll(refresh));
