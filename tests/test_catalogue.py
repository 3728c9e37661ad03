"""The catalogue of claims no chapter runs: well-formed, each with a reason, no duplicates."""

from __future__ import annotations

from collections import Counter

import pytest

from gandensity.book.catalogue import NOT_RUN
from gandensity.book.claims import PAPERS, Claim


def test_catalogue_is_a_nonempty_tuple_of_claims():
    assert isinstance(NOT_RUN, tuple)
    assert NOT_RUN, "the catalogue lists the papers' claims that no chapter runs; it should not be empty"
    assert all(isinstance(c, Claim) for c in NOT_RUN)


@pytest.mark.parametrize("claim", NOT_RUN, ids=lambda c: f"{c.paper}-{c.where}-{c.claim[:30]}")
def test_each_entry_is_not_run_with_a_reason(claim: Claim):
    assert claim.paper in PAPERS and claim.paper in {"000", "001", "002", "003"}
    assert claim.verdict.label == "not run"
    assert claim.verdict.rule.strip(), "a claim that is not run must say why"
    assert claim.where.strip() and claim.claim.strip() and claim.paper_value.strip() and claim.scale.strip()
    assert claim.chapter == "", "a claim that a chapter states belongs to that chapter, not the catalogue"


def test_no_duplicate_claims():
    keys = Counter((c.paper, c.where, c.claim) for c in NOT_RUN)
    duplicates = [k for k, n in keys.items() if n > 1]
    assert not duplicates, f"duplicate catalogue entries: {duplicates}"


def test_every_paper_has_entries_and_records_round_trip():
    assert {c.paper for c in NOT_RUN} == set(PAPERS)
    for c in NOT_RUN:
        assert Claim.from_record(c.record()) == c
