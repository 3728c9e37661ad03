"""Hostile inputs to stochastic_logdet: each is a clear error or a warning that names the setting and the fix."""

from __future__ import annotations

import warnings

import pytest
import torch

from gandensity.numerics import spectral
from gandensity.numerics.spectral import stochastic_logdet
from gandensity.numerics.validation import spd_with_spectrum


def spd64(eigenvalues: list[float], seed: int = 0) -> torch.Tensor:
    """(1, n, n) float64 symmetric matrix with that spectrum."""
    return spd_with_spectrum(torch.tensor([eigenvalues], dtype=torch.float64), seed=seed)


def batched(A: torch.Tensor):
    return lambda v: torch.einsum("bij,bj->bi", A.to(v.dtype), v)


GOOD = spd64([1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("name, value", [("eps", float("inf")), ("eps", float("nan")), ("eps", float("-inf")),
                                         ("g", float("inf")), ("g", float("nan"))])
def test_non_finite_eps_and_g_are_errors(name, value):
    with pytest.raises(ValueError, match=rf"^{name} must be finite, got {value!r}; .*{name}"):
        stochastic_logdet(batched(GOOD), 4, batch_size=1, dtype=torch.float64, **{name: value})


def test_eps_and_g_must_be_numbers():
    with pytest.raises(TypeError, match="eps must be a real number, got str 'small'"):
        stochastic_logdet(batched(GOOD), 4, batch_size=1, eps="small")
    with pytest.raises(TypeError, match="g must be a real number, got NoneType None"):
        stochastic_logdet(batched(GOOD), 4, batch_size=1, g=None)


def test_on_bad_spectrum_must_be_warn_or_raise():
    with pytest.raises(ValueError, match=r"on_bad_spectrum must be one of \('warn', 'raise'\), got 'ignore'"):
        stochastic_logdet(batched(GOOD), 4, batch_size=1, on_bad_spectrum="ignore")


def test_a_spectrum_inside_the_interval_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ("chebyshev", "taylor"):
            est = stochastic_logdet(batched(GOOD), 4, batch_size=1, dtype=torch.float64, seed=0, method=method,
                                    order=30, probes=200)
            assert abs(est.item() - torch.log(torch.tensor(24.0)).item()) < 0.2


def test_negative_definite_matrix_warns_or_raises():
    A = -spd64([1.0, 2.0, 3.0])
    with pytest.warns(RuntimeWarning, match=r"lambda_max estimate is negative for matrices \[0\].*"
                                            r"on_bad_spectrum='raise'"):
        stochastic_logdet(batched(A), 3, batch_size=1, dtype=torch.float64, seed=0)
    with pytest.raises(ValueError, match="spectrum is outside the assumed .*negative.*not positive definite"):
        stochastic_logdet(batched(A), 3, batch_size=1, dtype=torch.float64, seed=0, on_bad_spectrum="raise")


def test_eps_above_lambda_max_warns_for_chebyshev_only():
    A = spd64([0.01, 0.02, 0.03])
    with pytest.warns(RuntimeWarning, match=r"eps=0.1 >= the lambda_max estimate for matrices \[0\].*lower eps"):
        stochastic_logdet(batched(A), 3, batch_size=1, dtype=torch.float64, seed=0, eps=0.1)
    with pytest.raises(ValueError, match="eps=0.1 >= the lambda_max"):
        stochastic_logdet(batched(A), 3, batch_size=1, dtype=torch.float64, seed=0, on_bad_spectrum="raise")
    with warnings.catch_warnings():  # Taylor does not assume a lower bound
        warnings.simplefilter("error")
        stochastic_logdet(batched(A), 3, batch_size=1, dtype=torch.float64, seed=0, method="taylor")


def test_indefinite_matrix_with_positive_lambda_max_is_caught_by_the_probes():
    A = torch.tensor([[[1.0, 2.0], [2.0, 1.0]]], dtype=torch.float64)  # eigenvalues 3 and -1
    with pytest.raises(ValueError, match=r"quadratic form v\^T A v is not positive for matrices \[0\]"):
        stochastic_logdet(batched(A), 2, batch_size=1, dtype=torch.float64, seed=0, probes=20,
                          on_bad_spectrum="raise")


def test_only_the_bad_matrices_of_a_batch_are_named():
    good, bad = spd64([1.0, 2.0]), -spd64([1.0, 2.0])
    A = torch.cat([good, bad, good])
    with pytest.warns(RuntimeWarning, match=r"not positive for matrices \[1\]"):
        stochastic_logdet(batched(A), 2, batch_size=3, dtype=torch.float64, seed=0)


def test_zero_or_negligible_lambda_max_warns(monkeypatch):
    zero = torch.zeros(1, 2, 2)
    with pytest.warns(RuntimeWarning, match=r"lambda_max estimate is zero or negligible \(below 1.18e-38, the "
                                            r"smallest normal float32\) for matrices \[0\].*dtype=torch.float64"):
        stochastic_logdet(lambda v: torch.einsum("bij,bj->bi", zero, v), 2, batch_size=1, dtype=torch.float32,
                          seed=0, method="taylor")
    A = spd64([1.0, 2.0]).float()
    monkeypatch.setattr(spectral, "power_method", lambda matvec, start, iters: torch.full((1,), 1e-39))
    with pytest.raises(ValueError, match=r"zero or negligible \(below 1.18e-38"):
        stochastic_logdet(lambda v: torch.einsum("bij,bj->bi", A, v), 2, batch_size=1, dtype=torch.float32,
                          seed=0, method="taylor", on_bad_spectrum="raise")


def test_underestimated_lambda_max_is_caught_by_the_probes(monkeypatch):
    A = spd64([2.0, 2.0, 2.0])
    monkeypatch.setattr(spectral, "power_method", lambda matvec, start, iters: torch.full((1,), 0.5,
                                                                                          dtype=torch.float64))
    with pytest.warns(RuntimeWarning, match="Rayleigh quotient .* exceeds g \\* lambda_max .* raise power_iters"):
        stochastic_logdet(batched(A), 3, batch_size=1, dtype=torch.float64, seed=0)


def test_float64_closure_sets_the_dtype():
    A = spd64([1.0, 2.0, 3.0])[0]
    assert torch.get_default_dtype() == torch.float32
    ref = stochastic_logdet(lambda v: v @ A, 3, seed=0, dtype=torch.float64)
    est = stochastic_logdet(lambda v: v @ A, 3, seed=0)  # float32 probes fail on A: float64 is inferred
    assert est.dtype == torch.float64 and est.shape == (1,) and torch.equal(est, ref)
    est = stochastic_logdet(lambda v: v @ A, 3, seed=0, batch_size=1)
    assert torch.equal(est, ref)
    cast = stochastic_logdet(lambda v: v.double() @ A, 3, seed=0)  # returns float64: adopted
    assert cast.dtype == torch.float64 and torch.equal(cast, ref)


def test_dtype_mismatch_errors_name_dtype():
    A = spd64([1.0, 2.0, 3.0])[0]
    with pytest.raises(ValueError, match=r"matvec failed on float32 vectors .*pass dtype="):
        stochastic_logdet(lambda v: v @ A, 3, seed=0, batch_size=1, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"could not infer .*float32 input.*pass dtype= the dtype of matvec's "
                                         r"matrix if it differs"):
        stochastic_logdet(lambda v: v @ A, 3, seed=0, dtype=torch.float32)


def test_a_matvec_that_fails_for_every_dtype_names_both_fixes():
    def broken(v):
        raise RuntimeError("nope")

    with pytest.raises(ValueError, match=r"could not infer .*pass batch_size=B .*pass dtype= .*tried float32, "
                                         r"float64"):
        stochastic_logdet(broken, 3)
    with pytest.raises(ValueError, match=r"matvec failed on a \(2, 3\) float32 input .*pass dtype="):
        stochastic_logdet(broken, 3, batch_size=2)
