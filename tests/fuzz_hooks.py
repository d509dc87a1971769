"""schemathesis hooks for tests/test_fuzz_openapi.py (loaded through its config's `hooks`).

A generated search space almost never passes the rules between fields (low < high, a log scale
above 0, a condition naming a categorical parent), so without help no study would ever be
created and the stateful runs could not follow createStudy's links to ask, tell and read trials.
Schema-valid study bodies keep their generated direction, seed, metadata, retries and lease, but
take a valid space, and keep only the name of their sampler and pruner (each checks its own options).
"""

from __future__ import annotations

from typing import Any

import schemathesis

VALID_SPACE = [
    {"name": "lr", "type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    {"name": "opt", "type": "categorical", "choices": ["sgd", "adam"]},
    {"name": "m", "type": "float", "low": 0.9, "high": 0.99, "condition": {"param": "opt", "in": ["sgd"]}},
]


@schemathesis.hook("map_case").apply_to(method="PUT", path="/v1/studies/{name}")
def a_valid_space(context: Any, case: Any) -> Any:
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and isinstance(case.body, dict):
        case.body["space"] = VALID_SPACE
        for named in ("sampler", "pruner"):
            if isinstance(case.body.get(named), dict) and "name" in case.body[named]:
                case.body[named] = {"name": case.body[named]["name"]}
    return case
