"""Scoring rules: small named functions that turn an indicator's input into a share of its points.

As in COINr, each method has one name and is chosen by name from the framework file. A rule maps
the values of all scored units (numpy array, no missing values: policies are applied first) to
shares in [0, 1]; the engine multiplies by max points, rounds half up and applies caps. Every
rule is monotone in a unit's own value in its direction, which the property tests check.

Each rule also says where the *next threshold* is for one unit: the value it would have to reach
and the share it would get there. That is the answer to "what would it take to gain points?".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Params = Mapping[str, Any]
# fn(values, params, higher_is_better, max_points) -> shares in [0, 1]
ShareFn = Callable[[np.ndarray, Params, bool, float], np.ndarray]
# step(value, all_values, params, higher, max_points) -> (value to reach, share there) or None
StepFn = Callable[[float, np.ndarray, Params, bool, float], "tuple[float, float] | None"]

COMMON_PARAMS = ("cap",)


@dataclass(frozen=True)
class Rule:
    """A scoring rule: how an indicator's value becomes a share of its points, and the next step."""

    name: str
    share: ShareFn
    next_step: StepFn
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    relative: bool = False  # compares units with each other
    doc: str = ""
    # what the next step depends on besides the params and all values: "nothing" (the same
    # step for every unit), "share" (the unit's own share alone) or "value" (its own value)
    step_on: str = "value"

    def check(self, params: Params, direction: str) -> list[str]:
        """Problems with a node's params, in words for the loader's error message: first
        missing, unknown or mistyped parameters; only when there are none, their values."""
        problems = self._shape_problems(params, direction)
        if problems:
            return problems
        if self.name == "goalpost":
            problems += _goalpost_problems(params, direction)
        if self.name == "categorical" and "levels" in params:
            problems += _level_problems(params["levels"])
        return problems + self._value_problems(params)

    def _shape_problems(self, params: Params, direction: str) -> list[str]:
        """Required parameters missing, directions without meaning, unknown or mistyped keys."""
        problems = [f"rule '{self.name}' needs '{p}'" for p in self.required if p not in params]
        if self.name == "goalpost" and direction == "lower" and "upper" not in params:
            problems.append("rule 'goalpost' with direction 'lower' needs 'upper' (the zero-point post)")
        if self.name in ("categorical", "manual") and direction == "lower":
            problems.append(f"rule '{self.name}' takes its credit as given: direction 'lower' has no meaning")
        allowed = set(self.required) | set(self.optional) | set(COMMON_PARAMS)
        for key in params:
            if key not in allowed:
                problems.append(
                    f"rule '{self.name}' has unknown parameter '{key}' "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )
        for key, val in params.items():
            if key not in allowed or key == "levels":
                continue
            if key == "two_sided":
                if not isinstance(val, bool):
                    problems.append(f"rule '{self.name}': parameter 'two_sided' must be true or false")
            elif isinstance(val, bool) or not isinstance(val, (int, float)):
                problems.append(f"rule '{self.name}': parameter '{key}' must be a number, got {val!r}")
        return problems

    def _value_problems(self, params: Params) -> list[str]:
        """Scales, tolerances, clips and caps out of range; a zero target without tolerance."""
        problems = [
            f"rule '{self.name}': '{key}' must be positive"
            for key in ("scale", "tolerance", "clip")
            if key in params and params[key] <= 0
        ]
        if self.name == "distance_to_target" and params["target"] == 0 and "tolerance" not in params:
            problems.append("rule 'distance_to_target': a target of 0 needs a 'tolerance'")
        if "cap" in params and params["cap"] < 0:
            problems.append(f"rule '{self.name}': 'cap' must not be negative")
        return problems

    def describe(self, params: Params, direction: str) -> str:
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())
        lower = "" if direction == "higher" else "; lower is better"
        return f"{self.name}({shown}{lower})" if shown or lower else self.name


def _goalpost_problems(params: Params, direction: str) -> list[str]:
    """The goalposts in the wrong order for the direction."""
    thr = float(params["threshold"])
    if direction == "lower":
        if float(params["upper"]) <= thr:
            return ["rule 'goalpost': 'upper' must be above 'threshold' when lower is better"]
    elif float(params.get("lower", 0.0)) >= thr:
        return ["rule 'goalpost': 'lower' must be below 'threshold'"]
    return []


def _level_problems(levels: Any) -> list[str]:
    """A categorical rule's levels: numeric input values mapped to shares 0..1."""
    if not isinstance(levels, Mapping) or not levels:
        return ["rule 'categorical': 'levels' must map input values to shares 0..1"]
    problems = []
    for k, v in levels.items():
        try:
            float(k)
        except (TypeError, ValueError):
            problems.append(f"rule 'categorical': level key {k!r} is not a number")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
            problems.append(f"rule 'categorical': level {k!r} share {v!r} is not within 0..1")
    return problems


def _fmt(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _clip(a) -> np.ndarray:
    return np.clip(np.asarray(a, dtype=float), 0.0, 1.0)


# --- absolute rules -------------------------------------------------------------------------


def _linear(x, p, higher, mx):
    scale = float(p.get("scale", 1.0))
    return _clip(x / scale) if higher else _clip(1.0 - x / scale)


def _linear_step(v, xs, p, higher, mx):
    scale = float(p.get("scale", 1.0))
    return (scale, 1.0) if higher else (0.0, 1.0)


def _goalpost(x, p, higher, mx):
    thr = float(p["threshold"])
    if higher:
        lo = float(p.get("lower", 0.0))
        return _clip((x - lo) / (thr - lo))
    hi = float(p["upper"])
    return _clip((hi - x) / (hi - thr))


def _goalpost_step(v, xs, p, higher, mx):
    return (float(p["threshold"]), 1.0)


def _distance(x, p, higher, mx):
    target = float(p["target"])
    tol = float(p.get("tolerance", abs(target) or 1.0))
    if p.get("two_sided"):
        gap = np.abs(x - target)
    else:
        gap = np.maximum(0.0, target - x) if higher else np.maximum(0.0, x - target)
    return _clip(1.0 - gap / tol)


def _distance_step(v, xs, p, higher, mx):
    return (float(p["target"]), 1.0)


def _levels(p) -> list[tuple[float, float]]:
    return sorted((float(k), float(s)) for k, s in p["levels"].items())


def _categorical(x, p, higher, mx):
    out = np.zeros(len(x))
    for key, share in _levels(p):
        out[np.isclose(x, key)] = share
    return out


def _categorical_step(v, xs, p, higher, mx):
    here = float(_categorical(np.array([v]), p, higher, mx)[0])
    better = [(s, k) for k, s in _levels(p) if s > here]
    if not better:
        return None
    share, key = min(better)  # the nearest better level
    return (key, share)


def _boolean(x, p, higher, mx):
    thr = float(p.get("threshold", 0.5))
    return (x >= thr).astype(float) if higher else (x < thr).astype(float)


def _boolean_step(v, xs, p, higher, mx):
    return (1.0, 1.0) if higher else (0.0, 1.0)


def _half_credit(x, p, higher, mx):
    full, half = float(p.get("full", 1.0)), float(p.get("half", 0.5))
    if not higher:
        return np.where(x <= full, 1.0, np.where(x <= half, 0.5, 0.0))
    return np.where(x >= full, 1.0, np.where(x >= half, 0.5, 0.0))


def _half_credit_step(v, xs, p, higher, mx):
    full, half = float(p.get("full", 1.0)), float(p.get("half", 0.5))
    share = float(_half_credit(np.array([v]), p, higher, mx)[0])
    if share >= 1:
        return None
    return (half, 0.5) if share == 0 else (full, 1.0)


def _manual(x, p, higher, mx):
    """The input is the points an assessor awarded from the evidence."""
    return _clip(x / mx) if mx > 0 else np.ones(len(x))


def _manual_step(v, xs, p, higher, mx):
    return (mx, 1.0)


# --- relative rules (compare units) ---------------------------------------------------------


def _orient(x, higher):
    return x if higher else -x


def _minmax(x, p, higher, mx):
    y = _orient(x, higher)
    if len(y) == 0:
        return y
    lo, hi = y.min(), y.max()
    if hi - lo <= 1e-12:
        return np.ones(len(y))
    return _clip((y - lo) / (hi - lo))


def _zscore(x, p, higher, mx):
    y = _orient(x, higher)
    k = float(p.get("clip", 3.0))
    sd = y.std() if len(y) else 0.0
    if sd <= 1e-12:
        return np.full(len(y), 0.5)
    return _clip(0.5 + (y - y.mean()) / sd / (2 * k))


def _competition_rank(y: np.ndarray) -> np.ndarray:
    """1 for the best (largest); ties share the best rank."""
    order = np.sort(y)[::-1]
    return 1 + np.searchsorted(-order, -y, side="left")


def _rank(x, p, higher, mx):
    y = _orient(x, higher)
    n = len(y)
    if n <= 1:
        return np.ones(n)
    return (n - _competition_rank(y)) / (n - 1)


def _percentile_rank(x, p, higher, mx):
    y = _orient(x, higher)
    n = len(y)
    if n <= 1:
        return np.ones(n)
    s = np.sort(y)
    below = np.searchsorted(s, y, side="left")
    equal = np.searchsorted(s, y, side="right") - below
    return (below + 0.5 * (equal - 1)) / (n - 1)


def _best_step(v, xs, p, higher, mx):
    if len(xs) == 0:
        return None
    return (float(np.max(xs) if higher else np.min(xs)), 1.0)


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("linear", _linear, _linear_step, optional=("scale",), step_on="nothing",
             doc="share = value / scale (default 1): ratio × max points"),
        Rule("goalpost", _goalpost, _goalpost_step, required=("threshold",), optional=("lower", "upper"),
             step_on="nothing",
             doc="full points at threshold, linear from the lower post (default 0)"),
        Rule("distance_to_target", _distance, _distance_step, required=("target",),
             optional=("tolerance", "two_sided"), step_on="nothing",
             doc="share = 1 − shortfall / tolerance (default: the target)"),
        Rule("categorical", _categorical, _categorical_step, required=("levels",), step_on="share",
             doc="levels map an input code to a share; unlisted codes score 0"),
        Rule("boolean", _boolean, _boolean_step, optional=("threshold",), step_on="nothing",
             doc="full points for yes (value ≥ 0.5), none for no"),
        Rule("half_credit", _half_credit, _half_credit_step, optional=("full", "half"), step_on="share",
             doc="full points at ≥ full (1), half at ≥ half (0.5)"),
        Rule("manual", _manual, _manual_step, step_on="nothing",
             doc="the input is the points awarded from evidence"),
        Rule("minmax", _minmax, _best_step, relative=True, step_on="nothing",
             doc="(x − min) / (max − min) across units"),
        Rule("zscore", _zscore, _best_step, optional=("clip",), relative=True, step_on="nothing",
             doc="0.5 + z / (2 × clip), z across units, clipped at ±clip (3) sd"),
        Rule("rank", _rank, _best_step, relative=True, step_on="nothing",
             doc="(n − rank) / (n − 1), competition ranks"),
        Rule("percentile_rank", _percentile_rank, _best_step, relative=True, step_on="nothing",
             doc="share of other units below, ties counted half"),
    )
}


def get_rule(name: str) -> Rule:
    """The rule called ``name``; a clear error lists the known rules."""
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(f"unknown rule {name!r} (known: {', '.join(RULES)})") from None


def shares(rule: str, values: np.ndarray, params: Params, direction: str, max_points: float) -> np.ndarray:
    """Apply a rule to all scored units' values at once."""
    r = get_rule(rule)
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values
    return _clip(r.share(values, params, direction != "lower", float(max_points)))


def next_steps(
    rule: Rule, values: np.ndarray, xs: np.ndarray, params: Params, higher: bool, max_points: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rule.next_step`` for many units at once: (value to reach, share there, has a step).

    The step function is called once per distinct thing it depends on (``Rule.step_on``), not
    once per unit: a million units under a linear rule share one step."""
    n = len(values)
    if n == 0:
        return np.full(0, np.nan), np.full(0, np.nan), np.zeros(0, dtype=bool)
    if rule.step_on == "nothing":
        key = np.zeros(n, dtype=np.int64)
    else:
        on = values if rule.step_on == "value" else rule.share(values, params, higher, float(max_points))
        on = np.ascontiguousarray(on, dtype=np.float64).view(np.int64)  # bits: -0.0 is not 0.0
        key = np.unique(on, return_inverse=True)[1].reshape(-1)
    first = np.empty(int(key.max()) + 1, dtype=np.int64)
    first[key[::-1]] = np.arange(n - 1, -1, -1)
    m = len(first)
    target, share, found = np.full(m, np.nan), np.full(m, np.nan), np.zeros(m, dtype=bool)
    for k, i in enumerate(first):
        step = rule.next_step(float(values[i]), xs, params, higher, max_points)
        if step is not None:
            target[k], share[k], found[k] = step[0], step[1], True
    return target[key], share[key], found[key]
