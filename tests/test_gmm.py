"""The weighted GMM (mcnn.core.gmm) on data with known answers."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from mcnn.core import gmm


def _two_clusters(n_a=600, n_b=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal([0, 0, 0], 0.5, size=(n_a, 3))
    b = rng.normal([10, -5, 3], [1.0, 0.3, 0.6], size=(n_b, 3))
    return np.vstack([a, b]), np.r_[np.zeros(n_a, bool), np.ones(n_b, bool)]


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_recovers_two_separated_clusters(covariance):
    X, is_b = _two_clusters()
    model = gmm.fit(X, None, 2, covariance=covariance, iterations=5, seed=1)
    order = np.argsort(model.means[:, 0])
    np.testing.assert_allclose(model.means[order], [[0, 0, 0], [10, -5, 3]], atol=0.15)
    np.testing.assert_allclose(model.weights[order], [0.75, 0.25], atol=0.01)
    variances = model.covariances if covariance == "diag" else model.covariances.diagonal(0, 1, 2)
    np.testing.assert_allclose(variances[order][1], [1.0, 0.09, 0.36], rtol=0.25)


def test_weights_change_the_mixture_proportions():
    X, is_b = _two_clusters()
    # Three times the weight on each b sample balances 600 a samples against 200 b samples.
    w = np.where(is_b, 3.0, 1.0)
    model = gmm.fit(X, w, 2, covariance="full", iterations=5, seed=1)
    np.testing.assert_allclose(np.sort(model.weights), [0.5, 0.5], atol=0.01)
    # Zero weight removes a cluster from the model entirely: its samples become unlikely.
    only_a = gmm.fit(X, (~is_b).astype(float), 2, covariance="full", iterations=5, seed=1)
    assert only_a.nll(X[is_b]).min() > only_a.nll(X[~is_b]).max()


def test_nll_of_one_component_is_the_gaussian_density():
    rng = np.random.default_rng(3)
    X = rng.multivariate_normal([1, 2], [[2.0, 0.8], [0.8, 1.0]], size=5000)
    model = gmm.fit(X, None, 1, covariance="full", iterations=1, seed=0)
    ref = multivariate_normal(X.mean(0), np.cov(X.T, bias=True))
    Y = rng.normal(size=(10, 2))
    np.testing.assert_allclose(model.nll(Y), -ref.logpdf(Y), rtol=1e-3)


def test_same_seed_same_model_and_degenerate_inputs():
    X, _ = _two_clusters(seed=4)
    a = gmm.fit(X, None, 5, covariance="full", iterations=2, seed=7)
    b = gmm.fit(X, None, 5, covariance="full", iterations=2, seed=7)
    np.testing.assert_array_equal(a.means, b.means)
    # Two distinct points cannot support five components; a flat colour stays invertible.
    few = gmm.fit(
        np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]]),
        None,
        5,
        covariance="full",
        iterations=3,
        seed=0,
    )
    assert few.n_components == 2 and np.all(np.isfinite(few.nll(np.zeros((1, 2)))))
    with pytest.raises(ValueError, match="sum to zero"):
        gmm.fit(X, np.zeros(len(X)), 2, covariance="diag", iterations=1, seed=0)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_a_batch_of_fits_is_each_row_fitted_alone(covariance):
    """fit_batch (label inference: one GMM per frame of the same colour bins) = B single fits."""
    X, is_b = _two_clusters(seed=5)
    rng = np.random.default_rng(2)
    weights = rng.random((4, len(X))) * np.where(is_b, 3.0, 1.0)
    weights[1, is_b] = 0  # one row sees a single cluster
    batch = gmm.fit_batch(X, weights, 3, covariance=covariance, iterations=3, seeds=[1, 2, 3, 4])
    for b in range(4):
        alone = gmm.fit(X, weights[b], 3, covariance=covariance, iterations=3, seed=b + 1)
        together = batch.mixture(b)
        np.testing.assert_allclose(together.means, alone.means, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(together.covariances, alone.covariances, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batch.nll(X)[b], alone.nll(X), rtol=1e-9)
    # The row without cluster b's samples models them as outliers.
    assert batch.nll(X)[1][is_b].min() > batch.nll(X)[1][~is_b].max()
