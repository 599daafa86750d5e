"""Weighted Gaussian mixture model: k-means++ initialisation followed by a few EM iterations.

Used for the colour models of FST (mcnn.motion.fst) and of label inference (mcnn.labels). Every
sample carries a non-negative weight (FST down-weights samples from distant frames), and the fit
is deterministic given the seed.

    model = fit(X, weights, n_components, covariance="full", iterations=3, seed=0)
    cost = model.nll(Y)          # (M,) negative log-likelihood per sample
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COVARIANCE_TYPES = ("full", "diag")
# Added to every covariance diagonal, relative to the data's overall variance, so that a
# component fitted to identical samples (a flat colour region) stays invertible.
_RELATIVE_REGULARISATION = 1e-4
_ABSOLUTE_REGULARISATION = 1e-8


@dataclass(frozen=True)
class GaussianMixture:
    """A fitted mixture. `covariances` is (K, D, D) for "full" and (K, D) for "diag"."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance: str

    @property
    def n_components(self) -> int:
        return len(self.weights)

    def component_log_density(self, X: np.ndarray) -> np.ndarray:
        """(N, K) log(pi_k * N(x | mu_k, Sigma_k))."""
        return _weighted_log_densities(
            np.asarray(X, np.float64), self.weights, self.means, self.covariances, self.covariance
        )

    def nll(self, X: np.ndarray) -> np.ndarray:
        """Per-sample negative log-likelihood -log p(x), shape (N,)."""
        return -_logsumexp(self.component_log_density(X))


def fit(
    X: np.ndarray,
    weights: np.ndarray | None,
    n_components: int,
    *,
    covariance: str,
    iterations: int,
    seed: int,
) -> GaussianMixture:
    """Fit a weighted GMM to samples X (N, D).

    `weights` (N,) non-negative, or None for uniform. Components are seeded by weighted
    k-means++ and refined by `iterations` EM steps (0 = the hard k-means++ assignment followed by
    one weighted parameter update). Fewer distinct samples than `n_components` gives fewer
    components. Raises ValueError on empty input or zero total weight.
    """
    if covariance not in COVARIANCE_TYPES:
        raise ValueError(f"covariance must be one of {COVARIANCE_TYPES}, not {covariance!r}")
    X = np.asarray(X, np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"GMM samples must be a non-empty (N, D) array, got shape {X.shape}")
    w = np.ones(len(X)) if weights is None else np.asarray(weights, np.float64).ravel()
    if w.shape != (len(X),) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("GMM weights must be N finite non-negative numbers")
    keep = w > 0
    if not keep.any():
        raise ValueError("GMM weights sum to zero")
    X, w = X[keep], w[keep] / w[keep].sum()

    rng = np.random.default_rng(seed)
    centres = _kmeans_plus_plus(X, w, n_components, rng)
    resp = np.zeros((len(X), len(centres)))
    resp[np.arange(len(X)), _sq_distances(X, centres).argmin(1)] = 1.0
    reg = _RELATIVE_REGULARISATION * float(np.average(X.var(0))) + _ABSOLUTE_REGULARISATION
    params = _m_step(X, w, resp, covariance, reg)
    for _ in range(iterations):
        log_dens = _weighted_log_densities(X, *params, covariance)
        resp = np.exp(log_dens - _logsumexp(log_dens)[:, None])
        params = _m_step(X, w, resp, covariance, reg)
    return GaussianMixture(*params, covariance=covariance)


def _kmeans_plus_plus(X: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Weighted k-means++ seeding: each new centre drawn with probability ~ w * D^2."""
    centres = [X[rng.choice(len(X), p=w)]]
    d2 = _sq_distances(X, centres[0][None])[:, 0]
    for _ in range(k - 1):
        p = w * d2
        if p.sum() <= 0:  # every remaining sample coincides with a centre
            break
        centres.append(X[rng.choice(len(X), p=p / p.sum())])
        d2 = np.minimum(d2, _sq_distances(X, centres[-1][None])[:, 0])
    return np.stack(centres)


def _m_step(X, w, resp, covariance, reg):
    r = resp * w[:, None]
    mass = r.sum(0)
    alive = mass > 1e-12  # a component that lost all its samples is dropped
    r, mass = r[:, alive], mass[alive]
    means = (r.T @ X) / mass[:, None]
    if covariance == "diag":
        covs = (r.T @ (X * X)) / mass[:, None] - means**2
        covs = np.maximum(covs, 0) + reg
    else:
        # E[x x^T] - mu mu^T from one (N, D*D) product: a (K, N, D) temporary would be too big
        # for a million pixels, and a loop over components costs more in overhead
        d = X.shape[1]
        outer = (X[:, :, None] * X[:, None, :]).reshape(len(X), d * d)
        second = (r.T @ outer).reshape(-1, d, d) / mass[:, None, None]
        covs = second - means[:, :, None] * means[:, None, :]
        covs = 0.5 * (covs + covs.transpose(0, 2, 1)) + reg * np.eye(d)
    return mass / mass.sum(), means, covs


def _weighted_log_densities(X, weights, means, covs, covariance):
    d = X.shape[1]
    out = np.empty((len(X), len(weights)))
    if covariance == "diag":
        log_dets = np.log(covs).sum(1)
    else:
        # One batched factorisation; the per-sample work is then a small matrix product (a
        # triangular solve per component costs more in call overhead than in arithmetic).
        chols = np.linalg.cholesky(covs)
        whiten = np.linalg.inv(chols).transpose(0, 2, 1)  # y = (x - mu) L^-T, |y|^2 = maha
        log_dets = 2 * np.log(np.diagonal(chols, axis1=1, axis2=2)).sum(1)
    for k in range(len(weights)):  # K is small; each step is vectorised over all samples
        diff = X - means[k]
        if covariance == "diag":
            maha = (diff * diff / covs[k]).sum(1)
        else:
            y = diff @ whiten[k]
            maha = np.einsum("ij,ij->i", y, y)
        out[:, k] = np.log(weights[k]) - 0.5 * (d * np.log(2 * np.pi) + log_dets[k] + maha)
    return out


def _sq_distances(X, centres):
    return np.maximum(
        (X * X).sum(1)[:, None] - 2 * X @ centres.T + (centres * centres).sum(1)[None], 0
    )


def _logsumexp(a):
    top = a.max(1)
    return top + np.log(np.exp(a - top[:, None]).sum(1))
