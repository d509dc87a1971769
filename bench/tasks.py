"""Benchmark tasks on realistic scales: known test functions whose inputs are remapped onto
learning-rate-like (log over [1e-5, 1]), momentum-like (reverse_log over [0.9, 0.9999]), int and
categorical params; and real ones, models trained on datasets that ship inside scikit-learn.

Each synthetic function is smooth on the params' own scales, as real objectives are: a sampler on
the right scale sees the function as designed, one on a linear scale sees it squeezed into a corner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

LR: dict[str, Any] = {"type": "float", "low": 1e-5, "high": 1.0, "scale": "log"}
MOMENTUM: dict[str, Any] = {"type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log"}


@dataclass(frozen=True)
class Task:
    name: str
    space: list[dict[str, Any]]
    objective: Callable[[Mapping[str, Any]], float]
    optimum: float | None  # None: the best value any run found stands in for it
    cheap: bool = True  # cheap enough for the 1,000-trial budget
    real: bool = False  # a model trained on data, not a test function


def _unit(param: Mapping[str, Any], value: float) -> float:
    """A value's place in [0, 1] on its param's own scale."""
    low, high, scale = param["low"], param["high"], param.get("scale", "linear")
    if scale == "log":
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    if scale == "reverse_log":
        return (math.log1p(-value) - math.log1p(-low)) / (math.log1p(-high) - math.log1p(-low))
    return (value - low) / (high - low)


def _remapped(
    name: str, params: list[dict[str, Any]], bounds: list[tuple[float, float]], f: Callable[[np.ndarray], float],
    optimum: float,
) -> Task:  # fmt: skip
    space = [{"name": f"x{i}", **p} for i, p in enumerate(params)]

    def objective(values: Mapping[str, Any]) -> float:
        x = np.array([lo + _unit(p, values[p["name"]]) * (hi - lo) for p, (lo, hi) in zip(space, bounds, strict=True)])
        return float(f(x))

    return Task(name, space, objective, optimum)


def branin(x: np.ndarray) -> float:
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x**2) / d)) - math.exp(np.sum(np.cos(2 * math.pi * x)) / d) + 20 + math.e
    )


INT_100: dict[str, Any] = {"type": "int", "low": 0, "high": 100}
FLOAT: dict[str, Any] = {"type": "float", "low": 0.0, "high": 1.0}


def _mixed_task() -> Task:
    """Branin behind an optimizer choice: sgd has a momentum param, adam a beta2; each shifts the optimum."""
    space: list[dict[str, Any]] = [
        {"name": "lr", **LR},
        {"name": "units", "type": "int", "low": 16, "high": 1024, "scale": "log"},
        {"name": "optimizer", "type": "categorical", "choices": ["sgd", "adam", "rmsprop"]},
        {"name": "momentum", **MOMENTUM, "condition": {"param": "optimizer", "in": ["sgd"]}},
        {"name": "beta2", **MOMENTUM, "condition": {"param": "optimizer", "in": ["adam"]}},
    ]
    penalty = {"sgd": 0.0, "adam": 0.5, "rmsprop": 3.0}

    def objective(v: Mapping[str, Any]) -> float:
        x0 = -5 + 15 * _unit(LR, v["lr"])
        x1 = 15 * _unit({"low": 16, "high": 1024, "scale": "log"}, v["units"])
        extra = v.get("momentum", v.get("beta2"))
        shape = (_unit(MOMENTUM, extra) - 0.7) ** 2 * 20 if extra is not None else 1.0
        return branin(np.array([x0, x1])) + penalty[v["optimizer"]] + shape

    return Task("branin-mixed-5d", space, objective, optimum=None)


SYNTHETIC = [
    _remapped("branin-2d", [LR, MOMENTUM], [(-5, 10), (0, 15)], branin, 0.397887),
    _remapped("hartmann-6d", [LR, MOMENTUM, FLOAT, INT_100, LR, MOMENTUM], [(0, 1)] * 6, hartmann6, -3.32237),
    _remapped("rosenbrock-4d", [LR, MOMENTUM, FLOAT, LR], [(-2, 2)] * 4, rosenbrock, 0.0),
    _remapped("levy-5d", [LR, MOMENTUM, FLOAT, INT_100, LR], [(-10, 10)] * 5, levy, 0.0),
    _remapped("ackley-5d", [LR, MOMENTUM, FLOAT, FLOAT, LR], [(-5, 10)] * 5, ackley, 0.0),
    _mixed_task(),
]


# -- the real task --------------------------------------------------------------------------------

MLP_SPACE: list[dict[str, Any]] = [
    {"name": "learning_rate_init", "type": "float", "low": 1e-5, "high": 1.0, "scale": "log"},
    {"name": "solver", "type": "categorical", "choices": ["sgd", "adam"]},
    {"name": "momentum", **MOMENTUM, "condition": {"param": "solver", "in": ["sgd"]}},
    {"name": "batch_size", "type": "int", "low": 16, "high": 512, "scale": "log"},
    {"name": "hidden_units", "type": "int", "low": 8, "high": 128, "scale": "log"},
    {"name": "layers", "type": "int", "low": 1, "high": 3},
    {"name": "alpha", "type": "float", "low": 1e-7, "high": 1e-1, "scale": "log"},
    {"name": "activation", "type": "categorical", "choices": ["relu", "tanh", "logistic"]},
    {"name": "beta_1", "type": "float", "low": 0.5, "high": 0.999, "scale": "reverse_log",
     "condition": {"param": "solver", "in": ["adam"]}},
    {"name": "beta_2", "type": "float", "low": 0.9, "high": 0.9999, "scale": "reverse_log",
     "condition": {"param": "solver", "in": ["adam"]}},
    {"name": "epsilon", "type": "float", "low": 1e-10, "high": 1e-6, "scale": "log",
     "condition": {"param": "solver", "in": ["adam"]}},
]  # fmt: skip
MLP_MAX_ITER = 10  # a few epochs: cheap, and enough for the settings to matter


@cache
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    return x_train, x_valid, y_train, y_valid


def mlp_error(v: Mapping[str, Any]) -> float:
    """Validation error of an MLP on digits after MLP_MAX_ITER epochs (a fixed split and init)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_valid, y_train, y_valid = _digits()
    extra: dict[str, Any] = {}
    if v["solver"] == "sgd":
        extra = {"momentum": v["momentum"], "nesterovs_momentum": True}
    else:
        extra = {"beta_1": v["beta_1"], "beta_2": v["beta_2"], "epsilon": v["epsilon"]}
    model = MLPClassifier(
        hidden_layer_sizes=(v["hidden_units"],) * v["layers"],
        activation=v["activation"],
        solver=v["solver"],
        alpha=v["alpha"],
        batch_size=v["batch_size"],
        learning_rate_init=v["learning_rate_init"],
        max_iter=MLP_MAX_ITER,
        random_state=0,
        **extra,
    )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            model.fit(x_train, y_train)
            return float(1.0 - model.score(x_valid, y_valid))
        except ValueError:
            return 1.0  # diverged to NaN weights: as bad as it gets


MLP = Task("mlp-digits", MLP_SPACE, mlp_error, optimum=None, cheap=False, real=True)


def linear_space(space: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same bounds with every numeric param declared linear: the wrong-scale baseline."""
    return [{**p, "scale": "linear"} if p["type"] != "categorical" else dict(p) for p in space]


# -- more real tasks: classic models on scikit-learn's bundled datasets, as practitioners tune them --
# Each is a fixed subsample scored by 3-fold cross-validation with fixed folds and model seeds, so a
# configuration always scores the same; what varies across benchmark seeds is only the sampler.

FOLDS = 3
ROWS = 200  # subsample size: enough rows for the settings to matter, few enough for many seeds


@cache
def _folds(name: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Fixed folds of a fixed subsample, each standardised on its own training part (data, not results)."""
    from sklearn import datasets
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    regression = name == "diabetes"
    if len(y) > ROWS:
        x, _, y, _ = train_test_split(x, y, train_size=ROWS, random_state=0, stratify=None if regression else y)
    splitter = (KFold if regression else StratifiedKFold)(FOLDS, shuffle=True, random_state=0)
    folds = []
    for train, valid in splitter.split(x, y):
        scaler = StandardScaler().fit(x[train])
        folds.append((scaler.transform(x[train]), scaler.transform(x[valid]), y[train], y[valid]))
    return folds


def _cross_validated(model: Any, data: str, loss: str) -> float:
    """Mean loss over the FOLDS folds; a fit that fails or diverges scores the loss's worst."""
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss

    losses = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        for category in (ConvergenceWarning, RuntimeWarning, UserWarning):
            warnings.simplefilter("ignore", category)
        for x_train, x_valid, y_train, y_valid in _folds(data):
            try:
                fitted = clone(model).fit(x_train, y_train)
                if loss == "log_loss":
                    value = log_loss(y_valid, fitted.predict_proba(x_valid), labels=np.unique(y_train))
                elif loss == "error":
                    value = float(np.mean(fitted.predict(x_valid) != y_valid))
                else:
                    value = float(np.mean((fitted.predict(x_valid) - y_valid) ** 2) / np.var(y_valid))
            except (ValueError, np.linalg.LinAlgError):
                return _WORST[loss]
            losses.append(value)
    mean = float(np.mean(losses))
    return min(mean, _WORST[loss]) if math.isfinite(mean) else _WORST[loss]


# A loss no reasonable model exceeds: diverged fits are capped here so one NaN cannot dominate a median.
_WORST = {"log_loss": 10.0, "error": 1.0, "mse": 100.0}


GB_SPACE: list[dict[str, Any]] = [
    {"name": "learning_rate", "type": "float", "low": 1e-3, "high": 1.0, "scale": "log"},
    {"name": "n_estimators", "type": "int", "low": 5, "high": 80, "scale": "log"},
    {"name": "max_depth", "type": "int", "low": 1, "high": 6},
    {"name": "subsample", "type": "float", "low": 0.2, "high": 1.0},
    {"name": "min_samples_leaf", "type": "int", "low": 1, "high": 64, "scale": "log"},
    {"name": "max_features", "type": "float", "low": 0.1, "high": 1.0},
]


def gb_loss(v: Mapping[str, Any]) -> float:
    """Log loss of gradient boosting on breast_cancer."""
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(random_state=0, **v)
    return _cross_validated(model, "breast_cancer", "log_loss")


SVM_SPACE: list[dict[str, Any]] = [
    {"name": "C", "type": "float", "low": 1e-2, "high": 1e4, "scale": "log"},
    {"name": "gamma", "type": "float", "low": 1e-5, "high": 10.0, "scale": "log"},
    {"name": "kernel", "type": "categorical", "choices": ["rbf", "poly", "sigmoid"]},
    {"name": "degree", "type": "int", "low": 2, "high": 5, "condition": {"param": "kernel", "in": ["poly"]}},
    {"name": "coef0", "type": "float", "low": -1.0, "high": 1.0,
     "condition": {"param": "kernel", "in": ["poly", "sigmoid"]}},
]  # fmt: skip


def svm_error(v: Mapping[str, Any]) -> float:
    """Cross-validated error of a support vector classifier on digits."""
    from sklearn.svm import SVC

    return _cross_validated(SVC(max_iter=20_000, **v), "digits", "error")


ENET_SPACE: list[dict[str, Any]] = [
    {"name": "C", "type": "float", "low": 1e-4, "high": 1e3, "scale": "log"},
    {"name": "l1_ratio", "type": "float", "low": 0.0, "high": 1.0},
    {"name": "class_weight", "type": "categorical", "choices": ["none", "balanced"]},
    {"name": "fit_intercept", "type": "categorical", "choices": [True, False]},
]


def enet_loss(v: Mapping[str, Any]) -> float:
    """Log loss of elastic-net logistic regression (saga) on wine."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=v["C"],
        l1_ratio=v["l1_ratio"],
        class_weight=None if v["class_weight"] == "none" else "balanced",
        fit_intercept=v["fit_intercept"],
        solver="saga",
        max_iter=200,
        tol=1e-3,
        random_state=0,
    )
    return _cross_validated(model, "wine", "log_loss")


RF_SPACE: list[dict[str, Any]] = [
    {"name": "n_estimators", "type": "int", "low": 3, "high": 32, "scale": "log"},
    {"name": "max_depth", "type": "int", "low": 1, "high": 12},
    {"name": "min_samples_leaf", "type": "int", "low": 1, "high": 16, "scale": "log"},
    {"name": "max_features", "type": "float", "low": 0.05, "high": 1.0},
    {"name": "criterion", "type": "categorical", "choices": ["gini", "entropy"]},
    {"name": "bootstrap", "type": "categorical", "choices": [True, False]},
    {"name": "max_samples", "type": "float", "low": 0.2, "high": 1.0,
     "condition": {"param": "bootstrap", "in": [True]}},
]  # fmt: skip


def rf_loss(v: Mapping[str, Any]) -> float:
    """Log loss of a random forest on breast_cancer."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(random_state=0, n_jobs=1, **v)
    return _cross_validated(model, "breast_cancer", "log_loss")


KRR_SPACE: list[dict[str, Any]] = [
    {"name": "alpha", "type": "float", "low": 1e-6, "high": 10.0, "scale": "log"},
    {"name": "kernel", "type": "categorical", "choices": ["rbf", "laplacian", "polynomial"]},
    {"name": "gamma", "type": "float", "low": 1e-4, "high": 10.0, "scale": "log"},
    {"name": "degree", "type": "int", "low": 2, "high": 4, "condition": {"param": "kernel", "in": ["polynomial"]}},
    {"name": "coef0", "type": "float", "low": 0.0, "high": 5.0, "condition": {"param": "kernel", "in": ["polynomial"]}},
]  # fmt: skip


def krr_loss(v: Mapping[str, Any]) -> float:
    """Mean squared error (in units of the target's variance) of kernel ridge regression on diabetes."""
    from sklearn.kernel_ridge import KernelRidge

    return _cross_validated(KernelRidge(**v), "diabetes", "mse")


ADAM_SPACE: list[dict[str, Any]] = [
    {"name": "learning_rate_init", **LR},
    {"name": "beta_1", "type": "float", "low": 0.5, "high": 0.999, "scale": "reverse_log"},
    {"name": "beta_2", "type": "float", "low": 0.9, "high": 0.99999, "scale": "reverse_log"},
    {"name": "alpha", "type": "float", "low": 1e-7, "high": 1.0, "scale": "log"},
    {"name": "hidden_units", "type": "int", "low": 4, "high": 64, "scale": "log"},
    {"name": "batch_size", "type": "int", "low": 8, "high": 128, "scale": "log"},
]


def adam_loss(v: Mapping[str, Any]) -> float:
    """Log loss of a one-layer MLP trained by Adam for a few epochs on breast_cancer."""
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=(v["hidden_units"],),
        solver="adam",
        max_iter=MLP_MAX_ITER,
        random_state=0,
        **{k: value for k, value in v.items() if k != "hidden_units"},
    )
    return _cross_validated(model, "breast_cancer", "log_loss")


REAL = [
    MLP,
    Task("gb-breast-cancer", GB_SPACE, gb_loss, optimum=None, cheap=False, real=True),
    Task("svm-digits", SVM_SPACE, svm_error, optimum=None, cheap=False, real=True),
    Task("enet-wine", ENET_SPACE, enet_loss, optimum=None, cheap=True, real=True),
    Task("rf-breast-cancer", RF_SPACE, rf_loss, optimum=None, cheap=False, real=True),
    Task("krr-diabetes", KRR_SPACE, krr_loss, optimum=None, cheap=True, real=True),
    Task("adam-breast-cancer", ADAM_SPACE, adam_loss, optimum=None, cheap=False, real=True),
]
TASKS = [*SYNTHETIC, *REAL]
