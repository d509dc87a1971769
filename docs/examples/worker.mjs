// A Hone worker in plain Node.js 18+ (built-in fetch, no packages): register the study,
// then ask, train, tell, until it has run its share of trials.
//   HONE_URL=http://127.0.0.1:8000 HONE_STUDY=node-demo TRIALS=20 node worker.mjs
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";

const url = process.env.HONE_URL ?? "http://127.0.0.1:8000";
const study = `/v1/studies/${process.env.HONE_STUDY ?? "node-demo"}`;
const trials = Number(process.env.TRIALS ?? 20);
const worker = `node-${hostname()}-${process.pid}`;
const headers = { "Content-Type": "application/json" };
if (process.env.HONE_TOKEN) headers.Authorization = `Bearer ${process.env.HONE_TOKEN}`;

// One call. A dropped connection, 502/503/504 or request_in_progress is retried with backoff,
// under the same Idempotency-Key, so a retried ask or tell is never counted twice.
async function call(method, path, body) {
  const key = randomUUID();
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(url + path, {
        method,
        headers: { ...headers, "Idempotency-Key": key },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (attempt >= 8) throw error; // fetch rejects only when there was no answer at all
    }
    if (response) {
      const data = await response.json().catch(() => ({}));
      if (response.ok) return data;
      const transient = [502, 503, 504].includes(response.status) || data.error?.code === "request_in_progress";
      if (!transient || attempt >= 8) {
        const error = new Error(`${method} ${path}: ${response.status} ${data.error?.code}: ${data.error?.message}`);
        error.code = data.error?.code;
        throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(10_000, 250 * 2 ** attempt)));
  }
}

// Stands in for real training: any function of the params that returns a number to minimize.
async function train({ lr, beta, layers }) {
  return Math.log10(lr) ** 2 + (1 - beta) * 10 + layers / 10;
}

// Every worker sends the same spec: the first creates the study, the others get it back.
const spec = await call("PUT", study, {
  direction: "minimize",
  seed: 7,
  space: [
    { name: "lr", type: "float", low: 1e-4, high: 1, scale: "log" },
    { name: "beta", type: "float", low: 0.9, high: 0.999, scale: "reverse_log" },
    { name: "layers", type: "int", low: 1, high: 4 },
  ],
});

for (let i = 0; i < trials; i++) {
  const [trial] = (await call("POST", `${study}/trials/ask`, { worker })).trials;
  // Renew the lease while training runs longer than a third of it.
  const heartbeat = setInterval(
    () => call("POST", `${study}/trials/${trial.id}/heartbeat`, {}).catch(() => {}),
    (spec.lease_seconds * 1000) / 3,
  );
  let outcome;
  try {
    outcome = { state: "complete", value: await train(trial.params) };
  } catch (error) {
    outcome = { state: "failed", error: String(error) };
  } finally {
    clearInterval(heartbeat);
  }
  // Tell, heartbeat and report address the trial by its id: if the study was deleted and created
  // again meanwhile, this result belongs to no trial of the new one and is dropped (409 study_recreated).
  try {
    await call("POST", `${study}/trials/${trial.id}/tell`, outcome);
  } catch (error) {
    if (error.code !== "study_recreated") throw error;
    console.error(`trial ${trial.number}: ${error.message}`);
  }
}

console.log(JSON.stringify(await call("GET", `${study}/best`)));
