"""Claims as data: verdict rules, intervals, the chapter API and the scorecard generator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gandensity.book import claims, scorecard
from gandensity.book.chapter import CLAIMS_KEY, package_version, start
from gandensity.book.claims import Claim, Estimate, Verdict


def test_above_and_below_decide_only_outside_the_interval():
    assert claims.above(Estimate(0.5, 0.4, 0.6), 0.3).label == "reproduced"
    assert claims.above(Estimate(0.5, 0.4, 0.6), 0.45).label == "inconclusive"
    assert claims.above(Estimate(0.2, 0.1, 0.25), 0.3).label == "not reproduced"
    assert claims.below(Estimate(0.2, 0.1, 0.25), 0.3).label == "reproduced"
    assert claims.below(Estimate(0.5, 0.4, 0.6), 0.45).label == "inconclusive"
    assert claims.below(Estimate(0.5, 0.4, 0.6), 0.3).label == "not reproduced"
    assert claims.above(2.0, 1.0).label == "reproduced" and claims.above(1.0, 1.0).label == "not reproduced"
    assert "0.3" in claims.above(Estimate(0.5, 0.4, 0.6), 0.3).rule


def test_a_lower_bound_can_refute_a_below_claim_but_never_confirm_it():
    assert claims.lower_bound_below(Estimate(9.0, 8.5, 9.5), 8.0).label == "not reproduced"
    assert claims.lower_bound_below(Estimate(8.2, 7.9, 8.5), 8.0).label == "inconclusive"
    assert claims.lower_bound_below(Estimate(1.0, 0.5, 1.5), 8.0).label == "inconclusive"  # never reproduced
    assert claims.lower_bound_below(8.0, 8.0).label == "not reproduced"
    with pytest.raises(ValueError):
        claims.lower_bound_below(float("nan"), 8.0)


def test_all_of_combines_parts():
    yes, no, maybe = Verdict("reproduced", "a"), Verdict("not reproduced", "b"), Verdict("inconclusive", "c")
    assert claims.all_of(yes, yes).label == "reproduced"
    assert claims.all_of(no, no).label == "not reproduced"
    assert claims.all_of(yes, no).label == "partial"
    assert claims.all_of(yes, no, maybe).label == "partial"
    assert claims.all_of(yes, maybe).label == "inconclusive"
    assert claims.all_of(maybe, maybe).label == "inconclusive"
    # a claim that needs every part fails with one failed part, whatever the undecided ones turn out to be
    assert claims.all_of(no, maybe).label == "not reproduced"
    assert claims.all_of(maybe, no, maybe).label == "not reproduced"
    with pytest.raises(ValueError, match="not run"):
        claims.all_of(yes, claims.not_run("no data"))


def test_provided_needs_its_condition():
    yes, no, maybe = Verdict("reproduced", "a"), Verdict("not reproduced", "b"), Verdict("inconclusive", "c")
    assert claims.provided(yes, yes).label == "reproduced"
    assert claims.provided(yes, maybe).label == "inconclusive"
    assert claims.provided(no, yes).label == "not reproduced"  # a failed condition voids the comparison
    assert claims.provided(maybe, yes).label == "inconclusive"
    assert claims.provided(maybe, no).label == "not reproduced"
    assert "provided a (reproduced)" in claims.provided(yes, no).rule
    with pytest.raises(ValueError, match="not run"):
        claims.provided(claims.not_run("no data"), yes)


def test_an_interval_ending_on_the_threshold_reaches_it():
    assert "reaches 0" in claims.above(Estimate(5.0, 0.0, 8.0), 0.0).rule
    assert "reaches 0" in claims.below(Estimate(-1.0, -2.0, 0.0), 0.0).rule
    assert "straddles 0" in claims.above(Estimate(1.0, -1.0, 2.0), 0.0).rule
    assert claims.above(Estimate(5.0, 0.0, 8.0), 0.0).label == "inconclusive"


def test_nan_cannot_be_judged():
    with pytest.raises(ValueError, match="NaN"):
        claims.above(float("nan"), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        claims.below(Estimate(0.0, float("nan"), 1.0), 0.5)


def test_bootstrap_interval_covers_the_mean_of_a_known_distribution():
    rng = np.random.default_rng(1)
    hits = 0
    for trial in range(40):
        x = rng.normal(1.0, 2.0, size=200)
        est = claims.bootstrap(x, resamples=400, seed=trial)
        assert est.low <= est.value <= est.high
        hits += est.low <= 1.0 <= est.high
    assert hits >= 34  # 95% nominal coverage: 38 of 40 expected; 34 is far in the tail
    # Width ~ 2 * 1.96 * sigma / sqrt(n) = 0.55 for n = 200.
    assert 0.4 < est.high - est.low < 0.7


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 items"):
        claims.bootstrap([1.0])
    with pytest.raises(ValueError, match="level"):
        claims.bootstrap([1.0, 2.0], level=1.5)


def test_spread_is_mean_and_range():
    assert claims.spread([1.0, 3.0, 2.0]) == Estimate(2.0, 1.0, 3.0)


def test_claim_validates_its_fields():
    ok = dict(paper="000", where="Sec. 6", claim="c", paper_value="v", ours="1", scale="s",
              verdict=claims.above(1.0, 0.0))
    Claim(**ok)
    with pytest.raises(ValueError, match="paper must be one of"):
        Claim(**{**ok, "paper": "004"})
    with pytest.raises(TypeError, match="verdict must be a Verdict"):
        Claim(**{**ok, "verdict": "reproduced"})
    with pytest.raises(ValueError, match="Claim.where"):
        Claim(**{**ok, "where": " "})
    record = Claim(**ok).record()
    assert Claim.from_record(record) == Claim(**ok)


def test_chapter_records_shows_and_scores_claims(tmp_path, capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("gandensity.book.chapter._display", lambda obj, **kw: shown.append((obj, kw)))
    run = start("d1_tracked_layers", "smoke")
    header = capsys.readouterr().out
    assert f"gandensity code {package_version()}" in header and "D1 at profile smoke" in header
    assert all(len(line) <= 88 for line in header.splitlines())
    est = Estimate(0.5, 0.4, 0.6)
    run.claim("003", "Eq. 8", "the gap is positive", paper_value="exact", ours=est,
              verdict=claims.above(est, 0.0), scale="toy")
    run.claim("003", "Table 2", "bits/dim", paper_value="1.04", ours="—",
              verdict=claims.not_run("needs the full MNIST"), scale="paper")
    assert run.verdicts() == "003 Eq. 8: reproduced\n003 Table 2: not run"
    run.show_claims()
    (data, kwargs), = shown
    assert "| 003 | Eq. 8 |" in data["text/markdown"]
    records = kwargs["metadata"][CLAIMS_KEY]
    # The scorecard reads the claims back from a notebook's outputs.
    nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "display_data", "data": data,
                                                        "metadata": kwargs["metadata"]}]}]}
    path = tmp_path / "d1_tracked_layers.ipynb"
    path.write_text(json.dumps(nb))
    assert [c.record() for c in scorecard.chapter_claims(path)] == records
    md, js = scorecard.write(tmp_path)
    rows = json.loads(js.read_text())
    assert {r["chapter"] for r in rows if r["verdict"] != "not run" or r["chapter"]} == {"d1_tracked_layers"}
    assert all(set(r) == set(scorecard.JSON_KEYS) for r in rows)
    assert "| 003 Ben-Dov" in md.read_text()
    run.finish()
    assert "profile smoke: chapter ran in" in capsys.readouterr().out


def test_finish_names_models_and_rejects_other_objects(capsys):
    run = start("d1_tracked_layers", "smoke")

    class Fitted:
        from_cache, seconds = True, 12.0

    run.finish(dcgan=Fitted())
    assert "dcgan from the cache (12 s)" in " ".join(capsys.readouterr().out.split())  # wrapped to 80
    with pytest.raises(TypeError, match="from_cache"):
        run.finish(dcgan=object())
