"""How long does a study's param importance take to compute, at the sample size that bounds it?

    nice -n 19 .venv/bin/python bench/importance.py --record

The service computes importance from at most MAX_TRIALS complete trials (a random sample of a bigger
study), so this size is the worst case whatever the study holds. Synthetic trials, uniform in the
unit cube, one param deciding the objective; the median of `--repeats` computations per space size.
The cached answer that follows is one Redis GET.
"""

from __future__ import annotations

import argparse
import random
import time

from common import median, record

from service.domain.study import StudySpec
from service.domain.trial import Trial, TrialState
from service.usecases.importance import MAX_TRIALS, rank_params


def trials(spec: StudySpec, n: int, seed: int) -> list[Trial]:
    rng = random.Random(seed)
    out = []
    for number in range(n):
        params = {p.name: p.from_unit(rng.random()) for p in spec.space.params}
        value = params["p0"] + 0.1 * rng.random()
        out.append(Trial(number, "0", params, TrialState.COMPLETE, value, None, 0.0, 0.0, "", 0))  # incarnation "0"
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--params", default="5,30")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    rows = ["| params | trials | median seconds | first |", "| ---: | ---: | ---: | --- |"]
    for count in (int(c) for c in args.params.split(",")):
        space = [{"name": f"p{i}", "type": "float", "low": 0, "high": 1} for i in range(count)]
        body = {"space": space, "sampler": {"name": "random"}, "pruner": {"name": "none"}}
        spec = StudySpec.from_dict(body, 100, 1000)
        sample = trials(spec, MAX_TRIALS, seed=count)
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            ranked = rank_params(spec.space, sample, seed=1)
            seconds.append(time.perf_counter() - start)
        rows.append(f"| {count} | {MAX_TRIALS} | {median(seconds):.2f} | {ranked[0].param} |")
    table = "\n".join(rows) + "\n"
    print(table)
    if args.record:
        print(record("importance", table))


if __name__ == "__main__":
    main()
