"""Hutch++-style variance reduction (Meyer, Musco, Musco & Woodruff 2021) for log det of SPD matrices given only
products M v, with Lanczos quadrature for every quadratic form.

log det M = tr f(M), f = log, does not split additively over a subspace, but its trace does. For any n x K
matrix Q with orthonormal columns (or zero columns) and P = I - Q Q^T (a projector),

    tr f(M) = tr(Q^T f(M) Q) + tr(P f(M) P)                       (exact: tr(X) = tr(Q Q^T X) + tr(P X P))
            ~= sum_i q_i^T f(M) q_i + (1/p) sum_j (P g_j)^T f(M) (P g_j)

with Rademacher probes g_j, since E[(P g)^T X (P g)] = tr(P X P). Each quadratic form v^T f(M) v is
|v|^2 e_1^T f(T_v) e_1 from m steps of Lanczos started at v (:func:`gandensity.numerics.lanczos.lanczos`); the
first sum is deterministic given Q, so only the second carries Hutchinson's variance, 2 |P f(M) P|_F^2 /p
at most, which is small when Q spans the eigenvectors with large |log lambda|.

The sketch Q is an orthonormal basis of the block Krylov space span[S, M S, ..., M^{s-1} S] of k Gaussian
columns S (K = k s columns; s = 2 contains Meyer et al.'s orth(M S)): it captures the top of the spectrum.
Numerically dependent directions are dropped (zero columns, which contribute nothing).

Cost in matvecs per matrix: (k s + p) m. The products of the sketch's first s - 1 blocks are reused as the first
Lanczos step of those columns, so the sketch itself costs nothing extra. With k = n and m = n the estimate is
exact (Q spans R^n and each quadrature is exact). The gradient is the same identity applied to
tr(M^{-1} dM): sum_i (M^{-1} q_i)^T dM q_i + (1/p) sum_j (M^{-1} P g_j)^T dM P g_j, by conjugate gradients
(:func:`gandensity.numerics.lanczos.attach_logdet_gradient`), with Q held fixed (the identity holds for any Q).
"""

from __future__ import annotations

import torch

from gandensity.numerics.lanczos import (PROBE_CHUNK, Apply, Matvec, QuadratureLogdet, attach_gram_gradient,
                                         attach_logdet_gradient, batched, check_chunk, check_int, default_cg,
                                         depends_on_grad, gauss_quadrature, gradient_route, lanczos, rademacher,
                                         resolve, wants_gradient)

__all__ = ["hutchpp_logdet", "krylov_sketch"]


def _project_out(Z: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
    """Z - basis basis^T Z, twice (classical Gram-Schmidt twice); Z (k, B, n), basis (K, B, n)."""
    if basis is None or basis.shape[0] == 0:
        return Z
    for _ in range(2):
        Z = Z - torch.einsum("kib,kbd->ibd", torch.einsum("kbd,ibd->kib", basis, Z), basis)
    return Z


def _orthonormal(Z: torch.Tensor, drop_below: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis of the columns of Z (k, B, n) by SVD; directions with singular value <= drop_below (B,)
    become zero columns."""
    U, S, _ = torch.linalg.svd(Z.permute(1, 2, 0), full_matrices=False)  # U (B, n, k), S (B, k)
    return (U * (S > drop_below[:, None])[:, None, :]).permute(2, 0, 1)


def krylov_sketch(apply: Apply, start: torch.Tensor, blocks: int, *, tol: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal basis of span[S, M S, ..., M^{s-1} S] and its products with M, with graph where recorded.

    Args:
        apply: (N, B, n) -> (N, B, n).
        start: S (k, B, n).
        blocks: s.
        tol: relative threshold (times the largest |M w| seen) below which a direction is dropped.

    Returns:
        (Q, MQ), both (k s, B, n): orthonormal (or zero) columns, and M Q computed by ``apply`` (k s matvecs; an
        autograd graph is recorded if grad is enabled). Dropped directions are zero columns (and zero products).
    """
    k, B, n = start.shape
    scale = start.detach().norm(dim=-1).amax(0)  # (B,)
    W = _orthonormal(start.detach(), tol * scale)
    W = _orthonormal(W, torch.full_like(scale, 0.5))  # SVD twice: orthonormal to rounding
    basis, products = [], []
    for j in range(blocks):
        MW = apply(W)
        basis.append(W)
        products.append(MW)
        if j == blocks - 1:
            break
        Z = MW.detach()
        scale = torch.maximum(scale if j else torch.zeros_like(scale), Z.norm(dim=-1).amax(0))
        prev = torch.cat(basis)
        Z = _project_out(Z, prev)
        W = _orthonormal(Z, tol * scale)
        W = _orthonormal(_project_out(W, prev), torch.full_like(scale, 0.5))
    return torch.cat(basis), torch.cat(products)


def hutchpp_logdet(matvec: Matvec, dim: int, *, sketch: int = 10, sketch_steps: int = 2, steps: int = 10,
                   probes: int = 10, batch_size: int | None = None, seed: int | None = None, vectorize: bool = True,
                   dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                   cg_tol: float | None = None, cg_max_iter: int | None = None,
                   probe_chunk: int | None = PROBE_CHUNK, gradient: str = "auto",
                   gradient_probes: int | None = None) -> QuadratureLogdet:
    """Estimate log det M for B SPD matrices: exact-trace part on a Krylov sketch plus Hutchinson on the rest.

    Args:
        matvec: maps V of shape (B, dim) to (B, dim), row b multiplied by the b-th matrix (as for
            :func:`gandensity.numerics.lanczos.slq_logdet`). May close over tensors that require grad.
        dim: n.
        sketch: k, Gaussian sketch columns (k <= n).
        sketch_steps: s, Krylov blocks of the sketch: Q spans [S, M S, ..., M^{s-1} S] (K = k s columns).
        steps: m, Lanczos steps per quadratic form (capped at n).
        probes: p, Rademacher probes of the deflated part.
        batch_size, seed, vectorize, dtype, device, cg_tol, cg_max_iter, probe_chunk, gradient: as in
            :func:`gandensity.numerics.lanczos.slq_logdet` (the seed draws the sketch, then the probes, then the
            ``"gram"`` gradient's vectors).
        gradient_probes: q of the ``"gram"`` gradient (default k s + p, the estimate's vector count). That gradient
            does not use the sketch: the sketch captures the top of the spectrum, while the noise of
            tr(M^{-1} dM) comes from the bottom.

    Returns:
        :class:`gandensity.numerics.lanczos.QuadratureLogdet`: logdet (B,); per_probe (B, p) = the sketch's
        exact-trace part plus each probe's deflated estimate (their mean is logdet, their spread its error);
        matvecs = (k s + p) m. Differentiable as in ``slq_logdet``; with ``"hutchinson"``, by the same identity
        applied to tr(M^{-1} dM): the backward solves M u = v for the K sketch columns and p deflated probes (up to
        cg_max_iter (K + p) matvecs).
    """
    check_int(dim=dim, sketch=sketch, sketch_steps=sketch_steps, steps=steps, probes=probes)
    if gradient_probes is not None:
        check_int(gradient_probes=gradient_probes)
    check_chunk(probe_chunk)
    if sketch > dim:
        raise ValueError(f"sketch must be <= dim (at most n independent columns), got sketch={sketch}, dim={dim}")
    B, dtype, device = resolve(matvec, dim, batch_size, dtype, device)
    cg_tol, cg_max_iter = default_cg(dim, dtype, cg_tol, cg_max_iter)
    apply = batched(matvec, vectorize, probe_chunk)
    rng = torch.Generator().manual_seed(seed) if seed is not None else None
    S = torch.randn((sketch, B, dim), generator=rng).to(dtype=dtype, device=device)
    G = rademacher((probes, B, dim), dtype, device, rng)
    tol = 100 * dim ** 0.5 * torch.finfo(dtype).eps

    route = gradient_route(matvec, gradient)
    record = torch.enable_grad() if route == "hutchinson" and torch.is_grad_enabled() else torch.no_grad()
    with record:  # the Hutchinson gradient's recorded products: the sketch's and the deflated probes'
        Q, MQ = krylov_sketch(apply, S, sketch_steps, tol=tol)  # (K, B, n)
        with torch.no_grad():
            V = _project_out(G, Q)  # P g
        MV = apply(V)
    with torch.no_grad():
        K = Q.shape[0]
        lz = lanczos(apply, torch.cat([Q, V]), steps, first_product=torch.cat([MQ, MV]).detach())
        forms = lz.norm.double() ** 2 * gauss_quadrature(lz.alpha, lz.beta)  # (K + p, B)
        exact_part, deflated = forms[:K].sum(0), forms[K:]  # (B,), (p, B)
        per_probe = (exact_part[None] + deflated).T.to(dtype)  # (B, p)
    value = per_probe.mean(-1)
    products = torch.cat([MQ, MV])
    if route == "hutchinson" and wants_gradient(products):
        weights = torch.cat([torch.ones(K, dtype=dtype), torch.full((probes,), 1.0 / probes, dtype=dtype)])
        value = attach_logdet_gradient(value, torch.cat([Q, V]).detach(), products, weights, apply,
                                       cg_tol=cg_tol, cg_max_iter=cg_max_iter)
    elif route == "gram" and torch.is_grad_enabled() and depends_on_grad(apply, G):
        q = K + probes if gradient_probes is None else gradient_probes
        check_int(gradient_probes=q)
        value = attach_gram_gradient(value, matvec, apply, q, rng, cg_tol=cg_tol, cg_max_iter=cg_max_iter)
    return QuadratureLogdet(value, per_probe, (K + probes) * lz.steps)
