"""The numbers of chapters A1-A4 (paper 000): rankings, digit counts and bootstrap statistics, checked against
brute force and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp, spearmanr

from gandensity.workflows import evaluation


def test_top_bottom_are_the_extremes_in_order():
    scores = torch.tensor([0.3, 5.0, -2.0, 1.0, 4.0, -7.0])
    tb = evaluation.top_bottom(scores, 2)
    assert tb.top.tolist() == [1, 4] and tb.bottom.tolist() == [5, 2]
    with pytest.raises(ValueError, match="k must lie"):
        evaluation.top_bottom(scores, 4)


def test_describe_counts_and_digit_table():
    counts = [0, 40, 3, 0, 0, 0, 0, 40, 0, 8]
    assert evaluation.describe_counts(counts) == "1 (40), 7 (40), 9 (8)"
    assert evaluation.describe_counts([0, 2], n=3) == "1 (2)"
    assert evaluation.describe_counts([1, 2], names=["sky", "tree"]) == "tree (2), sky (1)"
    labels = torch.tensor([1, 1, 7, 3, 1, 0])
    table = evaluation.digit_table(labels, {"top": torch.tensor([0, 1, 2]), "bottom": torch.tensor([3, 5])})
    assert table.loc["top", "1"] == 2 and table.loc["top", "7"] == 1 and table.loc["top", "k"] == 3
    assert table.loc["bottom"].drop("k").sum() == 2 and table.loc["bottom", "0"] == 1


def test_pair_statistics_match_scipy_and_brute_force():
    rng = np.random.default_rng(0)
    a, b, c = (torch.from_numpy(rng.normal(size=200)) for _ in range(3))
    values = evaluation.pairs(a, b + a, c)
    assert values.shape == (200, 3)
    assert evaluation.spearman_pairs(values[:, :2]) == pytest.approx(spearmanr(a, a + b).statistic)
    want = abs(spearmanr(a, c).statistic) - abs(spearmanr(a + b, c).statistic)
    assert evaluation.spearman_gap(values) == pytest.approx(want)
    assert evaluation.std_ratio(evaluation.pairs(2 * a, a)) == pytest.approx(2.0)
    positive = torch.tensor([True, False, True, False])
    scores = torch.tensor([3.0, 1.0, 0.5, 2.0])  # positives above negatives in 2 of 4 pairs
    assert evaluation.auroc_pairs(evaluation.pairs(scores, positive.double())) == pytest.approx(0.5)
    assert evaluation.auroc_pairs(evaluation.pairs(scores, torch.ones(4, dtype=torch.float64))) == 0.5
    assert evaluation.largest_class_share(np.array([1, 1, 7, 3])) == 0.5
    with pytest.raises(ValueError, match="shape"):
        evaluation.pairs(a, b[:5])


def test_two_sample_bootstrap_covers_the_truth_and_separates_shifted_samples():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, generator=g), torch.randn(1000, generator=g)
    value, low, high = evaluation.bootstrap_two_sample(a, b + 1.0, evaluation.mean_gap, resamples=300)
    assert value == pytest.approx(float(a.mean() - b.mean() - 1.0))
    assert low < -1.0 < high and high - low < 0.3  # the true gap -1 inside a narrow interval
    ks, ks_low, ks_high = evaluation.bootstrap_two_sample(a, b, evaluation.ks_distance, resamples=300)
    assert ks == pytest.approx(ks_2samp(a.numpy(), b.numpy()).statistic)
    assert ks_low <= ks <= ks_high < 0.1  # same distribution: a small KS statistic
    assert evaluation.bootstrap_two_sample(a, b + 3, evaluation.ks_distance, resamples=100)[1] > 0.8
    with pytest.raises(ValueError, match="at least 2"):
        evaluation.bootstrap_two_sample(a[:1], b, evaluation.mean_gap)


def test_mean_by_class_sorts_classes_by_their_mean():
    scores = torch.tensor([1.0, 3.0, 10.0, 12.0, -5.0])
    labels = torch.tensor([0, 0, 2, 2, 3])
    table = evaluation.mean_by_class(scores, labels, ["a", "b", "c", "d"])
    assert list(table.index) == ["c", "a", "d"]  # "b" does not occur
    assert table.loc["c", "mean"] == 11.0 and table.loc["a", "count"] == 2
    assert evaluation.PHOTO_NAMES[0] == "astronaut" and "stereo_motorcycle" in evaluation.PHOTO_NAMES


def test_within_class_statistics_separate_content_from_a_per_image_measure():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50).astype(float)
    measure = rng.normal(size=200)
    # score a: the class only (content); score b: the measure only (smoothness), plus a little noise
    a = 10 * labels + 0.01 * rng.normal(size=200)
    b = measure + 0.01 * rng.normal(size=200)
    assert abs(evaluation.within_class_spearman(np.stack([a, measure, labels], 1))) < 0.3
    assert evaluation.within_class_spearman(np.stack([b, measure, labels], 1)) > 0.99
    # brute force: the mean of scipy's per-class correlations
    from scipy.stats import spearmanr
    expected = np.mean([spearmanr(b[labels == c], measure[labels == c]).statistic for c in range(4)])
    assert abs(evaluation.within_class_spearman(np.stack([b, measure, labels], 1)) - expected) < 1e-12
    assert evaluation.within_class_spearman_gap(np.stack([a, b, measure, labels], 1)) < -0.6
    assert evaluation.class_share(np.stack([a, labels], 1)) > 0.999
    assert evaluation.class_share(np.stack([b, labels], 1)) < 0.1
    assert evaluation.class_share(np.stack([np.ones(4), np.arange(4.0)], 1)) == 0.0
    assert np.isnan(evaluation.within_class_spearman(np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 1.0]])))
