"""The flow baseline (``gandensity.workflows.flows``): its configuration checks, maximum-likelihood training against
a Gaussian's closed-form density, the cache, dequantization, and the bits/dim convention it shares with AIS."""

from __future__ import annotations

import math

import pytest
import torch

from gandensity.numerics import ais
from gandensity.workflows import flows
from gandensity.workflows.jobs import DATA_SCALE


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("field, value", [
    ("kind", "glow"), ("transforms", 0), ("transforms", 2.0), ("epochs", True), ("batch_size", -1),
    ("hidden", ()), ("hidden", (16, 0)), ("hidden", 16), ("lr", 0.0), ("lr", math.nan), ("validation", 1.0),
    ("validation", -0.1), ("bin_width", -0.01), ("bin_width", math.inf), ("seed", -1),
])
def test_config_rejects_bad_values_and_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        flows.FlowConfig(**{field: value})


def test_config_accepts_a_list_of_hidden_widths():
    assert flows.FlowConfig(hidden=[8, 8]).hidden == (8, 8)


def test_train_flow_rejects_bad_inputs(isolated_cache):
    with pytest.raises(TypeError, match="FlowConfig"):
        flows.train_flow(torch.zeros(4, 2), {"kind": "maf"})
    with pytest.raises(ValueError, match="NaN"):
        flows.train_flow(torch.tensor([[0.0, math.nan]] * 4), flows.FlowConfig(epochs=1))
    with pytest.raises(ValueError, match="at least 2"):
        flows.train_flow(torch.zeros(4, 1), flows.FlowConfig(epochs=1))


def _gaussian(n: int, seed: int) -> tuple[torch.Tensor, torch.distributions.MultivariateNormal]:
    """n seeded samples of a correlated 3-D Gaussian, and the Gaussian."""
    mean = torch.tensor([0.5, -1.0, 0.2])
    chol = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [-0.3, 0.4, 0.5]])
    dist = torch.distributions.MultivariateNormal(mean, scale_tril=chol)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return dist.sample((n,)), dist


def test_flow_learns_a_gaussian_density(isolated_cache, one_thread):
    """An affine MAF contains every Gaussian (one transform is its Cholesky factor), so maximum likelihood on
    samples must recover the closed-form log-density: on average (minus the entropy) and pointwise."""
    x, dist = _gaussian(4000, seed=0)
    config = flows.FlowConfig(transforms=2, hidden=(32,), epochs=40, batch_size=500, lr=1e-2, validation=0.0,
                              bin_width=0.0, seed=1)
    fit = flows.train_flow(x, config, use_cache=False, verbose=False)
    fresh, _ = _gaussian(4000, seed=2)
    learned = flows.flow_log_prob(fit, fresh)
    truth = dist.log_prob(fresh).double()
    assert learned.shape == (4000,) and learned.dtype == torch.float64
    # mean(truth - learned) over fresh samples estimates KL(truth || flow): small (about 0.01 nats here)
    assert abs(learned.mean().item() - truth.mean().item()) < 0.05
    inner = truth > truth.quantile(0.1)  # pointwise, within the bulk (the tails see few samples)
    assert (learned - truth)[inner].abs().mean().item() < 0.12
    assert (learned - truth)[inner].abs().max().item() < 0.8
    # a wrong density (a unit Gaussian) is far off, so the test can fail
    unit = torch.distributions.Normal(0.0, 1.0).log_prob(fresh).sum(1).double()
    assert abs(unit.mean().item() - truth.mean().item()) > 0.5


def test_cache_returns_the_same_weights(isolated_cache, one_thread):
    x, _ = _gaussian(300, seed=3)
    config = flows.FlowConfig(transforms=2, hidden=(8,), epochs=2, batch_size=100, seed=4)
    first = flows.train_flow(x, config, verbose=False)
    second = flows.train_flow(x, config, verbose=False)
    assert not first.from_cache and second.from_cache
    assert first.best_epoch == second.best_epoch and first.history == second.history
    a, b = first.flow.state_dict(), second.flow.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert len(list(isolated_cache.glob("flow-maf-*.pt"))) == 1
    # training is seeded: without the cache the same config gives the same weights
    again = flows.train_flow(x, config, use_cache=False, verbose=False)
    assert all(torch.equal(a[k], again.flow.state_dict()[k]) for k in a)
    # another seed is another entry with other weights
    other = flows.train_flow(x, flows.FlowConfig(transforms=2, hidden=(8,), epochs=2, batch_size=100, seed=5),
                             verbose=False)
    assert not other.from_cache
    assert not all(torch.equal(a[k], other.flow.state_dict()[k]) for k in a)


def test_early_stopping_keeps_the_best_held_out_epoch(isolated_cache, one_thread):
    x, _ = _gaussian(400, seed=6)
    fit = flows.train_flow(x, flows.FlowConfig(transforms=1, hidden=(8,), epochs=5, batch_size=100, lr=1e-2,
                                               validation=0.25, bin_width=0.0, seed=0), verbose=False)
    val = fit.history["validation"]
    assert len(val) == 5 and len(fit.history["train"]) == 5
    assert fit.best_epoch == 1 + max(range(5), key=val.__getitem__)


def test_dequantize_spreads_each_value_over_its_bin():
    x = torch.linspace(-1, 1, 256).repeat(40, 1)
    width = 2 / 255
    y = flows.dequantize(x, width, rng=torch.Generator().manual_seed(0))
    offset = y - x
    assert offset.abs().max().item() <= width / 2
    assert abs(offset.mean().item()) < 1e-4 and abs(offset.std().item() - width / math.sqrt(12)) < 1e-4
    assert torch.equal(flows.dequantize(x, 0.0), x)


def test_flow_log_prob_matches_zuko_and_does_not_depend_on_chunk():
    flow = flows.build_flow(6, flows.FlowConfig(transforms=2, hidden=(8,), seed=0))
    x = torch.randn(10, 2, 3)
    direct = flow().log_prob(x.reshape(10, 6)).double()
    assert torch.allclose(flows.flow_log_prob(flow, x, chunk=3), direct, atol=1e-5)
    assert torch.allclose(flows.flow_log_prob(flow, x, chunk=100), direct, atol=1e-5)
    with pytest.raises(ValueError, match="chunk"):
        flows.flow_log_prob(flow, x, chunk=0)
    with pytest.raises(ValueError, match="bin_width"):
        flows.flow_log_prob(flow, x, bin_width=-1.0)


def test_build_flow_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = flows.build_flow(4, flows.FlowConfig(hidden=(8,), seed=3)).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    b = flows.build_flow(4, flows.FlowConfig(hidden=(8,), seed=3)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="dims"):
        flows.build_flow(1, flows.FlowConfig())


def test_bits_per_dim_convention_of_both_models():
    """The 8-bit convention for images k / 127.5 - 1: a uniform density over the 256 bins of width 2/255
    (a box of side DATA_SCALE = 2 * 256 / 255) gives exactly 8 bits/dim, and each extra nat per dimension of
    log-density is 1 / ln 2 bits less."""
    D = 1024
    uniform = -D * math.log(DATA_SCALE)

    def bpd(log_p: float) -> float:
        return ais.bits_per_dim(torch.tensor([log_p], dtype=torch.float64), D, scale=DATA_SCALE).item()

    assert bpd(uniform) == pytest.approx(8.0, abs=1e-12)
    assert bpd(uniform + D) == pytest.approx(8.0 - 1 / math.log(2), abs=1e-12)
    # the bin width is DATA_SCALE / 256 = 2/255, the levels' spacing
    assert DATA_SCALE / 256 == pytest.approx(2 / 255)
    # a flow whose density is uniform over one bin per value: probability 1 for the discrete image, 0 bits
    per_bin = D * math.log(255 / 2)
    assert bpd(per_bin) == pytest.approx(0.0, abs=1e-12)
    # the other bin width, 2/256 (scale 2), is off by log2(256/255) bits: the test tells the two apart
    other = ais.bits_per_dim(torch.tensor([uniform], dtype=torch.float64), D, scale=2.0).item()
    assert other == pytest.approx(8.0 + math.log2(256 / 255), abs=1e-12)
