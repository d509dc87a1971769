"""What matters: each param's importance for the objective, over the study's complete trials.

A random forest (scikit-learn) learns the objective from the params, and each param's importance
is how much the forest's fit drops when that param's column is shuffled (permutation importance).
Every param is one column in its unit coordinate (its own scale: log, reverse log, a categorical's
choice index), so a categorical is permuted as one param, and a conditional param that is inactive
in a trial is a missing value, which the forest's trees route on their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance

from ..domain.errors import Conflict
from ..domain.importance import Importance, ParamImportance
from ..domain.space import SearchSpace
from ..domain.trial import Trial
from ..storage.store import Store
from .studies import Studies, StudyHandle, on_study

MIN_TRIALS = 8  # below this a forest's ranking is noise, not a finding
# Beyond this many complete trials a random sample is used: the cost stays bounded whatever the
# study's size (bench/results/importance-*.md: 0.7 s for 5 params, 4 s for 30 on the vm), and the
# ranking of a few params is as clear from a thousand trials as from a hundred thousand.
MAX_TRIALS = 1000
# A cached answer stands while the study has at most this share more complete trials than it was
# computed on: exact below a hundred trials, and a busy 100k-trial study is refitted every thousand
# trials rather than on every poll. The answer's `complete` says which count it is from.
STALE_SHARE = 0.01
TREES = 32  # half the cost of 64, with the same ranking on the tests' and the bench's studies
LEAF = 3  # trials per leaf at least: a forest of single-trial leaves learns the noise
REPEATS = 3  # shuffles per param; their spread is the answer's std
METHOD = "permutation importance of a scikit-learn random forest, fitted to the ranks of the objective"


class ImportanceQueries:
    def __init__(self, studies: Studies, store: Store) -> None:
        self.studies = studies
        self.store = store

    @on_study
    def get(self, handle: StudyHandle) -> Importance:
        """The study's param importance; computed once per count of complete trials (within
        STALE_SHARE), then cached."""
        complete = self.store.value_count(handle.keys)
        cached = self.store.cached_importance(handle.keys)
        if cached is not None and cached.complete <= complete <= cached.complete * (1 + STALE_SHARE):
            return cached
        if complete < MIN_TRIALS:
            raise Conflict(
                f"importance needs at least {MIN_TRIALS} complete trials; the study has {complete}",
                code="too_few_trials",
                details={"complete": complete, "needed": MIN_TRIALS},
            )
        numbers = self.store.sample_complete(handle.keys, MAX_TRIALS)
        trials = [s.to_trial(handle.spec.space, handle.uid) for s in self.store.records(handle.keys, sorted(numbers))]
        answer = Importance(
            params=tuple(rank_params(handle.spec.space, trials, handle.seed)),
            trials=len(trials),
            complete=complete,
            sampled=len(trials) < complete,
            method=METHOD,
        )
        self.store.cache_importance(handle.keys, answer)
        return answer


def features(space: SearchSpace, trials: Sequence[Trial]) -> np.ndarray:
    """One row per trial, one column per param: its unit coordinate, NaN where it is inactive."""
    return np.array(
        [[p.to_unit(t.params[p.name]) if p.name in t.params else math.nan for p in space.params] for t in trials],
        dtype=float,
    )


def rank_params(space: SearchSpace, trials: Sequence[Trial], seed: int) -> list[ParamImportance]:
    """Each param's permutation importance for the trials' values, most important first."""
    x = features(space, trials)
    # Ranks, not raw values: one diverged run at 1e6 would otherwise be all the forest learns.
    y = rankdata([t.value for t in trials]) / len(trials)
    forest = RandomForestRegressor(n_estimators=TREES, min_samples_leaf=LEAF, random_state=seed % 2**32, n_jobs=1)
    forest.fit(x, y)
    shuffled = permutation_importance(forest, x, y, n_repeats=REPEATS, random_state=seed % 2**32, n_jobs=1)
    scores = [float(s) for s in shuffled.importances_mean]
    total = sum(max(s, 0.0) for s in scores)
    ranked = [
        ParamImportance(
            param=p.name,
            importance=max(score, 0.0) / total if total > 0 else 0.0,
            score=score,
            std=float(std),
        )
        for p, score, std in zip(space.params, scores, shuffled.importances_std, strict=True)
    ]
    return sorted(ranked, key=lambda p: -p.importance)
