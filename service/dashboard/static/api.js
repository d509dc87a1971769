// What both pages share: calls to the JSON API with the saved token, polling, and small DOM helpers.

const TOKEN_KEY = "hone.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Call the API; resolves to the JSON body, rejects with an ApiError carrying the error's code. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "unreachable", "the service is unreachable");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_error", error.message || response.statusText);
  }
  return data;
}

/** Follow next_cursor until `max` items of `key` are in hand or the listing ends. */
export async function pages(path, key, { limit, max }) {
  const items = [];
  let cursor = null;
  const join = path.includes("?") ? "&" : "?";
  do {
    const query =
      `limit=${Math.min(limit, max - items.length)}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const page = await api(`${path}${join}${query}`);
    items.push(...page[key]);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** A sentence for the user about a failed call. */
export function describe(error) {
  if (error.status === 401) return "This service needs a token: paste it in the Token field above.";
  if (error.status === 403) return `This token may not do that: ${error.message}`;
  if (error.code === "study_recreated") {
    return "This study was deleted and created again since this page loaded: reload the page.";
  }
  return error.message;
}

function notice(text) {
  const element = document.getElementById("notice");
  element.textContent = text || "";
  element.hidden = !text;
}

/** Keep the token field and localStorage in step; call onChange after each edit. */
export function bindToken(onChange) {
  const input = document.getElementById("token");
  input.value = localStorage.getItem(TOKEN_KEY) || "";
  input.addEventListener("change", () => {
    const token = input.value.trim();
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
    onChange();
  });
}

/** Run refresh now and every `everyMs` after it finishes; the returned function refreshes at once. */
export function poll(refresh, everyMs = 5000) {
  let timer = 0;
  let busy = false;
  let again = false;
  async function tick() {
    if (busy) {
      again = true; // a control changed something mid-refresh: show it right after
      return;
    }
    clearTimeout(timer);
    busy = true;
    try {
      // A hidden tab does not poll; it catches up on the next tick once visible.
      if (!document.hidden) {
        await refresh();
        notice(null);
        document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      }
    } catch (error) {
      if (!(error instanceof ApiError)) console.error(error); // a bug of the page: the console shows where
      notice(describe(error));
    } finally {
      busy = false;
      timer = setTimeout(tick, again ? 0 : everyMs);
      again = false;
    }
  }
  document.addEventListener("visibilitychange", () => document.hidden || tick());
  tick();
  return tick;
}

/** A number as people read it: 6 significant digits at most, no trailing zeros. */
export function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  return String(Number(x.toPrecision(6)));
}

/** An element with text (never HTML: names, params and notes come from users) and children. */
export function el(tag, { text, className, ...attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** Replace a tbody's rows; each row is a list of cells, each a string or {text, className} or a Node. */
export function setRows(tbody, rows) {
  tbody.replaceChildren(
    ...rows.map((cells) =>
      el(
        "tr",
        {},
        cells.map((cell) => {
          if (cell instanceof Node) return el("td", {}, [cell]);
          return typeof cell === "object" ? el("td", cell) : el("td", { text: cell });
        }),
      ),
    ),
  );
}
