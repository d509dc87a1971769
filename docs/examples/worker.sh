#!/usr/bin/env bash
# A complete Hone worker in bash: curl for HTTP, jq for JSON. Run as many copies as you like.
set -euo pipefail
HONE=${HONE_URL:-http://127.0.0.1:8000}/v1/studies/${STUDY:-mnist}
post() { curl -sf -X POST "$HONE/$1" -H 'Content-Type: application/json' -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" -d "$2"; }
for _ in $(seq "${TRIALS:-10}"); do
  trial=$(post trials/ask "{\"worker\": \"$(hostname)-$$\"}" | jq -c '.trials[0]')
  id=$(jq -r .id <<<"$trial")  # tell addresses the trial by its id, never by its number
  lr=$(jq -r .params.lr <<<"$trial")
  # Train here; this stand-in prints the validation loss as its last line.
  if loss=$(python3 -c "import math,sys; print((math.log10(float(sys.argv[1])) + 2) ** 2)" "$lr" | tail -n 1); then
    post "trials/$id/tell" "{\"state\": \"complete\", \"value\": $loss}" > /dev/null
  else
    post "trials/$id/tell" '{"state": "failed", "error": "training exited non-zero"}' > /dev/null
  fi
done
