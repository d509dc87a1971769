// Downloads made in the page: a chart as PNG, the trials table as CSV. Nothing goes to the server.

import { el } from "./api.js";

function save(href, filename) {
  const link = el("a", { href, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
}

/** A "PNG" button that saves `canvas` as `filename`. */
export function pngButton(canvas, filename) {
  const button = el("button", { text: "PNG", type: "button", className: "download", title: `download ${filename}` });
  button.addEventListener("click", () => save(canvas.toDataURL("image/png"), filename));
  return button;
}

/** Save text as a file. */
export function saveText(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  save(url, filename);
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** One CSV field: quoted when it holds a comma, a quote or a line break. */
export function csvField(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
