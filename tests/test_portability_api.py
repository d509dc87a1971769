"""Export and import over HTTP: a round trip is exact, a corrupt or truncated stream leaves no
study behind, and a 100k-trial study streams both ways in bounded memory."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .servers import Gunicorn
from .test_studies_api import assert_error, put

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "act", "type": "categorical", "choices": ["relu", "tanh"]},
    {
        "name": "width",
        "type": "int",
        "low": 8,
        "high": 512,
        "scale": "log",
        "condition": {"param": "act", "in": ["relu"]},
    },
]
NDJSON = {"Content-Type": "application/x-ndjson"}


def ask(api: Any, name: str, count: int = 1, **body: Any) -> list[dict[str, Any]]:
    response = api.post(f"/v1/studies/{name}/trials/ask", json={"count": count, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["trials"]


def tell(api: Any, name: str, trial_id: str, **body: Any) -> None:
    assert api.post(f"/v1/studies/{name}/trials/{trial_id}/tell", json=body).status_code == 200


def rich_study(api: Any, name: str = "src") -> None:
    """Every kind of thing a study holds: zoomed levels, a hand-edited region, every trial state,
    reports for the median pruner, notes, a lease-expired trial queued for a retry, enqueued configurations."""
    body = {
        "space": SPACE,
        "seed": 11,
        "sampler": {"name": "coarse_to_fine", "initial_trials": 6, "trials_per_level": 4},
        "pruner": {"name": "median", "warmup_steps": 1, "min_trials": 2},
        "metadata": {"team": "vision"},
        "max_retries": 1,
    }
    assert put(api, name, body).status_code == 201
    for i, trial in enumerate(t for _ in range(12) for t in ask(api, name, 2)):
        n, trial_id = trial["number"], trial["id"]
        for step in range(3):
            api.post(f"/v1/studies/{name}/trials/{trial_id}/report", json={"step": step, "value": 1.0 / (n + step + 1)})
        if i % 7 == 3:
            tell(api, name, trial_id, state="failed", error="CUDA out of memory")
        elif i % 7 == 5:
            tell(api, name, trial_id, state="pruned")
        else:
            tell(api, name, trial_id, state="complete", value=(i % 5) * 0.25 + n / 100)
    api.post(f"/v1/studies/{name}/trials/3/note", json={"note": "the loss went flat after step 2"})
    api.post(f"/v1/studies/{name}/regions", json={"param": "lr", "low": 1e-4, "high": 1e-1, "note": "narrowed"})
    (short,) = ask(api, name, lease_seconds=1)
    api.post(f"/v1/studies/{name}/trials/ask", json={"count": 2, "worker": "gpu-7"})
    api.post(f"/v1/studies/{name}/enqueue", json={"configurations": [{"lr": 0.01, "act": "tanh"}]})
    api.post(f"/v1/studies/{name}/note", json={"note": "copied to the new cluster"})
    time.sleep(1.1)  # the short lease runs out: that trial expires, its configuration is queued again
    assert api.get(f"/v1/studies/{name}/trials/{short['number']}").get_json()["state"] == "expired"


def export(api: Any, name: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/studies/{name}/export")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    text = response.get_data(as_text=True)
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def import_(api: Any, name: str, data: bytes | str) -> Any:
    return api.post(f"/v1/studies/{name}/import", data=data, headers=NDJSON)


def lines_of(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_export_import_export_is_identical_apart_from_name_and_import_times(api: Any) -> None:
    rich_study(api)
    first = export(api, "src")
    kinds = [row["kind"] for row in first]
    assert kinds[0] == "study" and kinds[-1] == "end"
    assert {"level", "trial", "queued"} <= set(kinds)
    assert first[0]["format"] == "hone-study" and first[0]["version"] == 1
    states = {row["state"] for row in first if row["kind"] == "trial"}
    assert states == {"complete", "failed", "pruned", "running", "expired"}
    queued = [row for row in first if row["kind"] == "queued"]
    assert {row["what"] for row in queued} == {"retry", "enqueued"}

    created = import_(api, "copy", lines_of(first))
    assert created.status_code == 201, created.get_json()
    again = export(api, "copy")
    assert again[0]["name"] == "copy" and again[0]["imported"]["from"] == "src"
    for row in (first[0], again[0]):
        row.pop("name"), row.pop("exported_at"), row.pop("imported")
    assert again == first

    original, copy = api.get("/v1/studies/src").get_json(), created.get_json()
    assert copy.pop("name") == "copy" and original.pop("name") == "src"
    # The copy is a study of its own: another id, so its trials' ids are its own too.
    assert copy.pop("id") != original.pop("id")
    assert copy["best"].pop("id") != original["best"].pop("id")
    assert copy == original
    assert api.get("/v1/studies/copy/regions").get_json() == api.get("/v1/studies/src/regions").get_json()
    # The copy goes on where the original stood: its queue first, then the same fresh draws.
    on_copy, on_original = ask(api, "copy", 3), ask(api, "src", 3)
    assert [t["source"] for t in on_copy] == ["enqueued", "coarse_to_fine", "coarse_to_fine"]
    assert on_copy[1]["retry_of"] is not None
    assert on_copy[0]["number"] == original["counts"]["total"]
    for trial in (*on_copy, *on_original):
        trial.pop("asked_at"), trial.pop("lease_expires_at"), trial.pop("worker"), trial.pop("id")
    assert on_copy == on_original


def test_an_existing_name_is_refused(api: Any) -> None:
    rich_study(api)
    put(api, "taken", {"space": SPACE})
    assert_error(import_(api, "taken", lines_of(export(api, "src"))), 409, "study_exists")
    assert_error(api.get("/v1/studies/nope/export"), 404, "study_not_found")


def corruptions(rows: list[dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """(what, stream, error code) for each way a stream can be broken."""
    text = lines_of(rows)
    trial_at = next(i for i, row in enumerate(rows) if row["kind"] == "trial")
    yield "no end line", lines_of(rows[:-1]), "truncated_import"
    yield "cut mid-line", text[: len(text) - len(json.dumps(rows[-1])) - 40], "invalid_import"
    yield "empty", "", "invalid_import"
    yield "not JSON", text.replace(json.dumps(rows[trial_at]), "{not json", 1), "invalid_import"
    bad = [dict(row) for row in rows]
    bad[trial_at] = {**bad[trial_at], "params": {"lr": 7.0, "act": "tanh"}}
    yield "params outside the space", lines_of(bad), "invalid_import"
    yield "a trial twice", lines_of(rows[: trial_at + 1] + rows[trial_at:]), "invalid_import"
    bad = [dict(row) for row in rows]
    bad[-1] = {**bad[-1], "trials": bad[-1]["trials"] + 1}
    yield "end line miscounts", lines_of(bad), "invalid_import"
    yield "data after the end", lines_of(rows + rows[-1:]), "invalid_import"
    yield "a trial dropped", lines_of(rows[:trial_at] + rows[trial_at + 1 :]), "invalid_import"
    yield "future version", lines_of([{**rows[0], "version": 99}, *rows[1:]]), "unsupported_format"
    bad = [dict(row) for row in rows]
    bad[trial_at] = {**bad[trial_at], "state": "complete", "value": None}
    yield "complete without a value", lines_of(bad), "invalid_import"


def test_a_corrupt_or_truncated_stream_is_refused_and_leaves_nothing(api: Any, redis_client: Any) -> None:
    rich_study(api)
    rows = export(api, "src")
    before = sorted(redis_client.keys("*"))
    for what, stream, code in corruptions(rows):
        error = assert_error(import_(api, "copy", stream), 422, code)
        assert error["message"], what
        assert api.get("/v1/studies/copy").status_code == 404, what
        assert sorted(redis_client.keys("*")) == before, what
    assert import_(api, "copy", lines_of(rows)).status_code == 201


def trial_lines(count: int) -> Iterator[bytes]:
    """A made-up export of `count` complete trials, generated a line at a time."""
    spec = {"space": SPACE, "sampler": {"name": "random"}, "seed": 1}
    yield (
        json.dumps(
            {
                "kind": "study",
                "format": "hone-study",
                "version": 1,
                "name": "big",
                "exported_at": 0,
                "spec": spec,
                "created_ms": 1,
                "seed": 1,
                "paused": False,
                "note": None,
                "trials_total": count,
                "sampler": {"level": 0, "version": 0, "level_start": 0, "cursor": count, "state": {}},
                "warm_start": None,
                "imported": None,
            }
        )
        + "\n"
    ).encode()
    yield b'{"kind":"level","level":0,"region":null,"asked":0,"done":0,"best":null}\n'
    for n in range(count):
        params = {"lr": 10 ** -(1 + n % 4), "act": "relu", "width": 8 + n % 500}
        row = {
            "kind": "trial",
            "number": n,
            "params": params,
            "state": "complete",
            "value": n / count,
            "error": None,
            "source": "random",
            "level": None,
            "attempt": 0,
            "retry_of": None,
            "retry_failed": False,
            "requeued": False,
            "worker": f"host-{n % 64}:1234",
            "asked_ms": 1_700_000_000_000 + n,
            "finished_ms": 1_700_000_000_500 + n,
            "note": None,
            "reports": [[0, 1.0], [1, 0.5]],
        }
        yield (json.dumps(row) + "\n").encode()
    end = {"kind": "end", "trials": count, "levels": 1, "queued": 0, "counts": {"complete": count}}
    yield (json.dumps(end) + "\n").encode()


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture
def server(redis_url: str, redis_client: Any) -> Iterator[Gunicorn]:
    with Gunicorn({"REDIS_URL": redis_url}, workers=1) as running:
        yield running


BIG = 100_000
# A 100k-trial stream is ~40 MB of JSON and far more as Python objects; streaming keeps the
# worker within a few MB of where it started. The bound is generous: it fails only when a
# whole side is held in memory.
MAX_GROWTH_KB = 48 << 10


def test_a_100k_trial_study_streams_both_ways_in_bounded_memory(server: Gunicorn) -> None:
    (pid,) = server.worker_pids()
    with httpx.Client(base_url=server.url, timeout=600) as http:
        assert http.get("/v1/studies").status_code == 200
        start = peak_rss_kb(pid)
        created = http.post("/v1/studies/big/import", content=trial_lines(BIG), headers=NDJSON)
        assert created.status_code == 201, created.text
        assert created.json()["counts"]["complete"] == BIG
        after_import = peak_rss_kb(pid)
        lines = 0
        with http.stream("GET", "/v1/studies/big/export") as response:
            for line in response.iter_lines():
                lines += 1
                if lines == 3:
                    first_trial = json.loads(line)
        after_export = peak_rss_kb(pid)
    assert lines == BIG + 3
    assert first_trial["number"] == 0 and first_trial["reports"] == [[0, 1.0], [1, 0.5]]
    assert after_import - start < MAX_GROWTH_KB, (start, after_import)
    assert after_export - start < MAX_GROWTH_KB, (start, after_export)
