"""Weighted Gaussian mixture models: k-means++ initialisation followed by a few EM iterations.

Used for the colour models of FST (mcnn.motion.fst), of label inference (mcnn.labels) and of
co-localization. Every sample carries a non-negative weight (FST down-weights samples from
distant frames), and a fit is deterministic given its seed.

    model = fit(X, weights, n_components, covariance="full", iterations=3, seed=0)
    cost = model.nll(Y)          # (M,) negative log-likelihood per sample

Label inference fits one mixture per frame of a batch to the same samples (colour-histogram
bins) with a different weighting per frame; `fit_batch` runs those B fits as one set of array
operations (B x K x N) instead of B Python-level fits, which is where label inference spent
most of its time. `fit` is the batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COVARIANCE_TYPES = ("full", "diag")
# Added to every covariance diagonal, relative to the data's overall variance, so that a
# component fitted to identical samples (a flat colour region) stays invertible.
_RELATIVE_REGULARISATION = 1e-4
_ABSOLUTE_REGULARISATION = 1e-8
_DEAD_MASS = 1e-12


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

    def nll(self, X: np.ndarray) -> np.ndarray:
        """Per-sample negative log-likelihood -log p(x), shape (N,)."""
        batch = GaussianMixtures(
            self.weights[None], self.means[None], self.covariances[None], self.covariance
        )
        return batch.nll(X)[0]


@dataclass(frozen=True)
class GaussianMixtures:
    """B mixtures of up to K components: weights (B, K), means (B, K, D), covariances
    (B, K, D, D) for "full" or (B, K, D) for "diag". A component of weight 0 is absent (its
    fit had fewer distinct samples than components, or it lost all its samples)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance: str

    def mixture(self, b: int) -> GaussianMixture:
        """The b-th mixture, without its absent components."""
        alive = self.weights[b] > 0
        return GaussianMixture(
            self.weights[b][alive], self.means[b][alive], self.covariances[b][alive],
            self.covariance,
        )  # fmt: skip

    def component_log_density(self, X: np.ndarray) -> np.ndarray:
        """(B, K, N) log(pi_bk * N(x | mu_bk, Sigma_bk)); -inf for absent components."""
        return _weighted_log_densities(_Samples(np.asarray(X, np.float64)), self)

    def nll(self, X: np.ndarray) -> np.ndarray:
        """-log p_b(x) of every sample under every mixture, (B, N)."""
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
    w = np.ones(len(np.asarray(X))) if weights is None else np.asarray(weights, np.float64)
    models = fit_batch(
        X, w.reshape(1, -1), n_components, covariance=covariance, iterations=iterations,
        seeds=[seed],
    )  # fmt: skip
    return models.mixture(0)


def fit_batch(
    X: np.ndarray,
    weights: np.ndarray,
    n_components: int,
    *,
    covariance: str,
    iterations: int,
    seeds,
) -> GaussianMixtures:
    """B weighted GMMs of the same samples X (N, D), one per row of `weights` (B, N).

    Each row is fitted as `fit` would fit it alone with its seed (`seeds`, B integers).
    """
    if covariance not in COVARIANCE_TYPES:
        raise ValueError(f"covariance must be one of {COVARIANCE_TYPES}, not {covariance!r}")
    X = np.asarray(X, np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"GMM samples must be a non-empty (N, D) array, got shape {X.shape}")
    w = np.asarray(weights, np.float64)
    if w.ndim != 2 or w.shape[1] != len(X) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("GMM weights must be (B, N) finite non-negative numbers")
    totals = w.sum(1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("GMM weights sum to zero")
    w = w / totals
    if len(seeds) != len(w):
        raise ValueError(f"{len(w)} weightings need {len(w)} seeds, got {len(seeds)}")

    samples = _Samples(X)
    # The regularisation of each fit follows the (unweighted) spread of its own samples.
    present = (w > 0).astype(np.float64)
    count = present.sum(1)[:, None]
    spread = (present @ samples.squares) / count - ((present @ X) / count) ** 2
    reg = _RELATIVE_REGULARISATION * np.maximum(spread, 0).mean(1) + _ABSOLUTE_REGULARISATION

    rngs = [np.random.default_rng(int(seed)) for seed in seeds]
    centres, alive = _kmeans_plus_plus(samples, w, n_components, rngs)
    distances = np.where(alive[..., None], _sq_distances(samples, centres), np.inf)
    nearest = distances.argmin(1)  # (B, N)
    resp = (nearest[:, None] == np.arange(n_components)[:, None]).astype(np.float64)
    models = _m_step(samples, w, resp, covariance, reg)
    for _ in range(iterations):
        log_dens = _weighted_log_densities(samples, models)
        resp = np.exp(log_dens - _logsumexp(log_dens)[:, None])
        models = _m_step(samples, w, resp, covariance, reg)
    return models


class _Samples:
    """The samples X (N, D) and the per-sample products every EM step reuses: squares x_i^2
    and their sums, outer products x x^T (N, D*D) and the quadratic features (x_i x_j for
    i <= j, x, 1) in which a Mahalanobis distance is linear."""

    def __init__(self, X: np.ndarray):
        n, d = X.shape
        self.X = X
        self.squares = X * X
        self.sq_norms = self.squares.sum(1)
        self.outer = (X[:, :, None] * X[:, None, :]).reshape(n, d * d)
        self.upper = np.triu_indices(d)
        self.features = np.empty((len(self.upper[0]) + d + 1, n))  # (F, N)
        self.features[: len(self.upper[0])] = (X[:, self.upper[0]] * X[:, self.upper[1]]).T
        self.features[len(self.upper[0]) : -1] = X.T
        self.features[-1] = 1.0


def _kmeans_plus_plus(samples, w, k, rngs) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k-means++ seeding of every row: each new centre drawn with probability
    ~ w * D^2. Returns centres (B, k, D) and which exist (B, k): a row runs out of centres
    when every remaining sample coincides with one."""
    X = samples.X
    batch = len(w)
    draws = np.array([rng.random(k) for rng in rngs])  # (B, k) uniform numbers
    centres = np.zeros((batch, k, X.shape[1]))
    alive = np.zeros((batch, k), bool)
    p = w
    d2 = np.full(w.shape, np.inf)
    for c in range(k):
        cumulative = np.cumsum(p, 1)
        total = cumulative[:, -1]
        alive[:, c] = total > 0
        target = draws[:, c] * total
        index = np.minimum((cumulative <= target[:, None]).sum(1), len(X) - 1)
        centres[:, c] = X[index]
        new = _sq_distances(samples, centres[:, c : c + 1])[:, 0]
        d2 = np.where(alive[:, c, None], np.minimum(d2, new), d2)
        p = w * d2
        dead = ~alive[:, c]
        centres[dead, c] = centres[dead, 0]  # a finite stand-in; its weight will be 0
    return centres, alive


def _m_step(samples, w, resp, covariance, reg) -> GaussianMixtures:
    X = samples.X
    r = resp * w[:, None]  # (B, K, N)
    mass = r.sum(2)  # (B, K)
    alive = mass > _DEAD_MASS  # a component that lost all its samples is dropped
    safe = np.where(alive, mass, 1.0)
    means = (r @ X) / safe[..., None]
    d = X.shape[1]
    if covariance == "diag":
        covs = (r @ samples.squares) / safe[..., None] - means**2
        covs = np.where(alive[..., None], np.maximum(covs, 0), 1.0) + reg[:, None, None]
    else:
        # E[x x^T] - mu mu^T from one product with the (N, D*D) outer products: a (B, K, N, D)
        # temporary would be too big for a million pixels
        second = (r @ samples.outer).reshape(*mass.shape, d, d)
        covs = second / safe[..., None, None] - means[..., :, None] * means[..., None, :]
        covs = 0.5 * (covs + np.swapaxes(covs, -1, -2))
        covs = np.where(alive[..., None, None], covs, np.eye(d))
        covs = covs + reg[:, None, None, None] * np.eye(d)
    weights = np.where(alive, mass, 0.0)
    return GaussianMixtures(weights / weights.sum(1, keepdims=True), means, covs, covariance)


def _weighted_log_densities(samples, models: GaussianMixtures) -> np.ndarray:
    """(B, K, N) log(pi_bk N(x_n | mu_bk, Sigma_bk)).

    The Mahalanobis distance (x - mu)^T P (x - mu), P = Sigma^-1, is a linear function of the
    sample's quadratic features (x_i x_j, x_i, 1): one (B*K, F) x (F, N) matrix product for
    every component of every mixture, instead of a small matrix product per component.
    """
    means, covs = models.means, models.covariances
    d = means.shape[-1]
    if models.covariance == "diag":
        precision = np.eye(d) / covs[..., None, :]
        log_dets = np.log(covs).sum(-1)
    else:
        precision = np.linalg.inv(covs)
        log_dets = np.linalg.slogdet(covs)[1]
    upper = samples.upper
    # x^T P x = sum_i P_ii x_i^2 + sum_{i<j} 2 P_ij x_i x_j; -2 (P mu)^T x; mu^T P mu
    n_quadratic = len(upper[0])
    precision_mean = (precision @ means[..., None])[..., 0]
    coefficients = np.empty((*means.shape[:2], n_quadratic + d + 1))  # (B, K, F)
    coefficients[..., :n_quadratic] = precision[..., upper[0], upper[1]]
    coefficients[..., :n_quadratic] *= np.where(upper[0] == upper[1], 1.0, 2.0)
    coefficients[..., n_quadratic:-1] = -2 * precision_mean
    coefficients[..., -1] = (precision_mean * means).sum(-1)
    maha = np.maximum(coefficients @ samples.features, 0)  # rounding can dip just below 0
    with np.errstate(divide="ignore"):  # absent components: log 0 = -inf
        log_weights = np.log(models.weights)
    norm = d * np.log(2 * np.pi) + log_dets
    return (log_weights - 0.5 * norm)[..., None] - 0.5 * maha


def _sq_distances(samples, centres):
    """Squared distances (B, C, N) of the samples (N, D) to each row's centres (B, C, D)."""
    cross = centres @ samples.X.T
    return np.maximum(
        samples.sq_norms[None, None, :] - 2 * cross + (centres * centres).sum(-1)[..., None], 0
    )


def _logsumexp(a):
    """log sum_k exp over axis 1 of (B, K, N)."""
    top = a.max(1)
    return top + np.log(np.exp(a - top[:, None]).sum(1))
