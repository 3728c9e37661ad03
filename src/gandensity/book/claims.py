"""Claims of the papers as data, with verdicts computed by rules stated in code.

A claim is one sentence a paper asserts about an experiment (a figure, a table, a stated number), the
paper's value exactly as the paper prints it, our value as computed by a chapter, the scale difference,
and a verdict. The verdict comes from a rule applied to our numbers, never typed by hand:

- :func:`above` / :func:`below`: our estimate (with its interval over seeds or bootstrap resamples) is
  compared with a threshold; ``reproduced`` only when the whole interval is on the claimed side,
  ``not reproduced`` when the whole interval is on the other side, ``inconclusive`` when the threshold
  lies inside the interval (the result is within the spread that retraining or resampling would give).
- :func:`all_of`: several such parts; all reproduced gives ``reproduced``, all not reproduced gives
  ``not reproduced``, a mix gives ``partial`` (inconclusive parts make it ``inconclusive`` unless the
  decided parts already disagree, which makes it ``partial``).
- :func:`not_run`: the chapter (or no chapter) runs the experiment; the reason says why.

What holds by construction is not a claim: it is a unit test.

Shapes: an :class:`Estimate` is a value with a (low, high) interval; :func:`bootstrap` makes one from a
1-D tensor or array of per-item values and a statistic.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

__all__ = ["VERDICTS", "Estimate", "Verdict", "Claim", "bootstrap", "spread", "above", "below", "lower_bound_below", "all_of",
           "provided", "not_run", "claims_markdown", "PAPERS"]

VerdictLabel = Literal["reproduced", "partial", "inconclusive", "not reproduced", "not run"]
VERDICTS: tuple[str, ...] = ("reproduced", "partial", "inconclusive", "not reproduced", "not run")

# Paper ids as in the repository's paper list (one per part of the book).
PAPERS: dict[str, str] = {
    "000": "Krusinga et al. 2019",
    "001": "Ramesh & LeCun 2018",
    "002": "Friedman & Weiss 2024",
    "003": "Ben-Dov et al. 2022 (LED)",
}


class Estimate(NamedTuple):
    """A value with an interval that states its spread (``low <= value <= high`` is not required)."""

    value: float
    low: float
    high: float

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        if self.low == self.high == self.value:
            return format(self.value, spec)
        return f"{format(self.value, spec)} [{format(self.low, spec)}, {format(self.high, spec)}]"

    def __str__(self) -> str:
        return format(self, "")


def _finite(x: float, name: str) -> float:
    x = float(x)
    if math.isnan(x):
        raise ValueError(f"{name} is NaN: a claim cannot be judged on a NaN; fix the computation that produced it")
    return x


def bootstrap(values: Any, statistic: Callable[[np.ndarray], float] = np.mean, *, level: float = 0.95,
              resamples: int = 2000, seed: int = 0) -> Estimate:
    """Percentile bootstrap interval of ``statistic`` over the items of ``values`` (first axis).

    Args:
        values: per-item values (tensor, array or sequence), shape (N,) or (N, ...).
        statistic: maps an array of items to one number; vectorised over nothing (called per resample).
        level: coverage of the interval, in (0, 1).
        resamples: number of bootstrap resamples (at least 100).
        seed: seed of numpy's generator, so that the interval is reproducible.
    """
    arr = np.asarray(values.detach().cpu().numpy() if hasattr(values, "detach") else values, dtype=float)
    if arr.ndim == 0 or len(arr) < 2:
        raise ValueError(f"bootstrap needs at least 2 items along the first axis, got shape {arr.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(resamples, len(arr)))
    stats = np.array([statistic(arr[i]) for i in idx], dtype=float)
    alpha = (1 - level) / 2
    return Estimate(_finite(statistic(arr), "statistic"), float(np.quantile(stats, alpha)),
                    float(np.quantile(stats, 1 - alpha)))


def spread(values: Sequence[float]) -> Estimate:
    """The mean of per-seed values with their range as the interval (for a few retrained seeds)."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        raise ValueError("spread needs at least one value")
    return Estimate(float(arr.mean()), float(arr.min()), float(arr.max()))


class Verdict(NamedTuple):
    """A verdict label and the rule, with numbers, that produced it."""

    label: VerdictLabel
    rule: str


def _as_estimate(ours: Estimate | float) -> Estimate:
    if isinstance(ours, Estimate):
        return Estimate(*(_finite(v, "ours") for v in ours))
    x = _finite(ours, "ours")
    return Estimate(x, x, x)


def _reaches(est: Estimate, t: float) -> str:
    """How an undecided interval meets the threshold: it ends on it, or holds it inside."""
    return "reaches" if t in (est.low, est.high) else "straddles"


def above(ours: Estimate | float, threshold: float, *, what: str = "ours") -> Verdict:
    """``reproduced`` when all of ``ours``'s interval exceeds ``threshold``; see the module docstring."""
    est, t = _as_estimate(ours), _finite(threshold, "threshold")
    if est.low > t:
        return Verdict("reproduced", f"{what} {est} > {t:.3g}")
    if est.high <= t:
        return Verdict("not reproduced", f"{what} {est} <= {t:.3g}")
    return Verdict("inconclusive", f"{what} {est} {_reaches(est, t)} {t:.3g}")


def below(ours: Estimate | float, threshold: float, *, what: str = "ours") -> Verdict:
    """``reproduced`` when all of ``ours``'s interval is below ``threshold``; see the module docstring."""
    est, t = _as_estimate(ours), _finite(threshold, "threshold")
    if est.high < t:
        return Verdict("reproduced", f"{what} {est} < {t:.3g}")
    if est.low >= t:
        return Verdict("not reproduced", f"{what} {est} >= {t:.3g}")
    return Verdict("inconclusive", f"{what} {est} {_reaches(est, t)} {t:.3g}")


def lower_bound_below(bound: Estimate | float, threshold: float, *, what: str = "lower bound") -> Verdict:
    """For a claim that a quantity lies below ``threshold`` when ours is only a *lower bound* on it: ``not
    reproduced`` when all of the bound's interval is at or above ``threshold`` (the quantity is too); otherwise
    ``inconclusive``, since a lower bound below the threshold says nothing about the quantity. Never
    ``reproduced``."""
    est, t = _as_estimate(bound), _finite(threshold, "threshold")
    if est.low >= t:
        return Verdict("not reproduced", f"{what} {est} >= {t:.3g}, so the quantity is too")
    return Verdict("inconclusive", f"{what} {est} reaches below {t:.3g}; a lower bound cannot show the quantity is")


def all_of(*parts: Verdict) -> Verdict:
    """Combine the part verdicts of one claim that needs all of them: ``reproduced`` when every part is,
    ``partial`` when some part is reproduced and another is not, ``not reproduced`` when some part is not and
    none is (an undecided part could at most make it partial), and ``inconclusive`` otherwise (no part failed,
    so the undecided parts could still make it hold)."""
    if not parts:
        raise ValueError("all_of needs at least one part")
    labels = [p.label for p in parts]
    if "not run" in labels:
        raise ValueError("a part that was not run cannot be combined; state the claim as not_run")
    rule = "; ".join(f"{p.rule} ({p.label})" for p in parts)
    if all(lab == "reproduced" for lab in labels):
        return Verdict("reproduced", rule)
    if "not reproduced" in labels:
        return Verdict("partial" if "reproduced" in labels else "not reproduced", rule)
    return Verdict("inconclusive", rule)


def provided(condition: Verdict, verdict: Verdict) -> Verdict:
    """``verdict`` where it means something only if ``condition`` holds (e.g. bits per dimension compared
    between two models need a valid density): ``not reproduced`` when the condition fails, ``inconclusive``
    when it is undecided (unless ``verdict`` fails anyway), ``verdict`` when it holds."""
    for part in (condition, verdict):
        if part.label == "not run":
            raise ValueError("a part that was not run cannot be combined; state the claim as not_run")
    rule = f"{verdict.rule} ({verdict.label}), provided {condition.rule} ({condition.label})"
    if condition.label == "not reproduced":
        return Verdict("not reproduced", rule)
    if condition.label == "reproduced":
        return Verdict(verdict.label, rule)
    return Verdict("not reproduced" if verdict.label == "not reproduced" else "inconclusive", rule)


def not_run(reason: str) -> Verdict:
    """The experiment is not run here; ``reason`` says why (data, compute, missing weights, ...)."""
    if not reason.strip():
        raise ValueError("not_run needs a reason")
    return Verdict("not run", reason)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of a paper and how it fares here.

    Attributes:
        paper: "000".."003" (see :data:`PAPERS`).
        where: where the paper states it ("Sec. 6", "Fig. 4", "Table 1", "Eq. 8").
        claim: the claim, in one sentence.
        paper_value: the paper's value exactly as the paper prints it (or its words).
        ours: our value, formatted from the computation.
        verdict: the computed :class:`Verdict`.
        scale: our setting against the paper's.
        chapter: the chapter that states it ("" for claims no chapter runs).
    """

    paper: str
    where: str
    claim: str
    paper_value: str
    ours: str
    verdict: Verdict
    scale: str
    chapter: str = ""

    def __post_init__(self) -> None:
        if self.paper not in PAPERS:
            raise ValueError(f"paper must be one of {sorted(PAPERS)}, got {self.paper!r}")
        if not isinstance(self.verdict, Verdict) or self.verdict.label not in VERDICTS:
            raise TypeError(f"verdict must be a Verdict from a rule of gandensity.book.claims (above, below, "
                            f"all_of, not_run), got {self.verdict!r}")
        for name in ("where", "claim", "paper_value", "scale"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"Claim.{name} must be a non-empty string")

    def record(self) -> dict[str, str]:
        """The claim as a flat JSON-able dict (the scorecard's row)."""
        return {"paper": self.paper, "where": self.where, "claim": self.claim, "paper_value": self.paper_value,
                "ours": self.ours, "verdict": self.verdict.label, "rule": self.verdict.rule, "scale": self.scale,
                "chapter": self.chapter}

    @classmethod
    def from_record(cls, record: dict[str, str]) -> "Claim":
        return cls(paper=record["paper"], where=record["where"], claim=record["claim"],
                   paper_value=record["paper_value"], ours=record["ours"],
                   verdict=Verdict(record["verdict"], record.get("rule", "")),  # type: ignore[arg-type]
                   scale=record["scale"], chapter=record.get("chapter", ""))


_BADGE = {"reproduced": "✅ reproduced", "partial": "◐ partial", "inconclusive": "❔ inconclusive",
          "not reproduced": "❌ not reproduced", "not run": "⏸ not run"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(claims: Sequence[Claim], *, chapter_links: bool = False) -> str:
    """A markdown table of claims (wraps on the page: no line is clipped)."""
    head = ["paper", "where", "claim", "paper", "ours", "verdict", "rule", "scale"]
    if chapter_links:
        head.append("chapter")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in claims:
        row = [c.paper, c.where, c.claim, c.paper_value, c.ours, _BADGE[c.verdict.label], c.verdict.rule, c.scale]
        if chapter_links:
            row.append(f"[{c.chapter}]({c.chapter}.ipynb)" if c.chapter else "—")
        lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
    return "\n".join(lines)
