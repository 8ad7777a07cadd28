"""scipy.sparse X (CSR, CSC) in fit, predict*, modelEvaluate: the dense answers, in memory bounded by the batch."""

import tracemalloc

import numpy as np
import pytest

from dnn import DNN

sparse = pytest.importorskip("scipy.sparse")


def small_problem():
    X = sparse.random(300, 40, density=0.1, format="csr", random_state=0, dtype=np.float64)
    y = (X[:, 0].toarray().ravel() > 0).astype(int) + (X[:, 1].toarray().ravel() > 0).astype(int)
    return X, y


def model(width, **options):
    m = DNN(seed=0, threads=1, **options)
    m.addInputLayer([width])
    m.addHiddenLayer([8])
    m.addOutputLayer([3])
    return m


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_training_on_sparse_rows_is_training_on_their_dense_form_bit_for_bit(fmt):
    X, y = small_problem()
    on_sparse, on_dense = model(40), model(40)
    on_sparse.fit(X.asformat(fmt), y, epochs=3, verbose=0, validationSplit=0.2)
    on_dense.fit(X.toarray(), y, epochs=3, verbose=0, validationSplit=0.2)
    for layer in (2, 3):
        np.testing.assert_array_equal(on_sparse.w[layer], on_dense.w[layer])
    assert on_sparse.history == on_dense.history | {"time": on_sparse.history["time"]}
    np.testing.assert_array_equal(on_sparse.predictProba(X.asformat(fmt)), on_dense.predictProba(X.toarray()))
    np.testing.assert_array_equal(on_sparse.predictLogProba(X), on_dense.predictLogProba(X.toarray()))
    np.testing.assert_array_equal(on_sparse.predict(X), on_dense.predict(X.toarray()))
    sparse_metrics = on_sparse.modelEvaluate(X, y, verbose=0)
    dense_metrics = on_dense.modelEvaluate(X.toarray(), y, verbose=0)
    assert sparse_metrics["accuracy"] == dense_metrics["accuracy"]
    assert sparse_metrics["loss"] == pytest.approx(dense_metrics["loss"], rel=1e-12)


def test_standardizing_sparse_rows_learns_the_dense_mean_and_scale():
    X, y = small_problem()
    on_sparse, on_dense = model(40, standardize=True), model(40, standardize=True)
    on_sparse.fit(X, y, epochs=2, verbose=0)
    on_dense.fit(X.toarray(), y, epochs=2, verbose=0)
    dense = X.toarray()
    np.testing.assert_allclose(on_sparse.feature_mean, dense.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(on_sparse.feature_scale, dense.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(on_sparse.predictProba(X), on_dense.predictProba(dense), atol=1e-5)


def test_bad_sparse_input_is_refused_naming_the_problem():
    X, y = small_problem()
    m = model(40)
    before = m.w[2].copy()
    broken = X.copy()
    broken.data[5] = np.nan
    row = int(np.searchsorted(broken.indptr, 5, side="right") - 1)
    with pytest.raises(ValueError, match=rf"NaN or infinity \(first in row {row}\)"):
        m.fit(broken, y, verbose=0)
    with pytest.raises(ValueError, match="X has 39 features but the input layer has 40 units"):
        m.fit(X[:, :39], y, verbose=0)
    np.testing.assert_array_equal(m.w[2], before)                    # refused calls leave the model as it was
    assert m.epochs == 0
    with pytest.raises(ValueError, match=r"take dense X, got a scipy\.sparse matrix"):
        m.forwardPropagation(X)


def test_a_100000_by_50000_text_like_matrix_trains_and_predicts_in_memory_bounded_by_the_batch():
    n, d = 100_000, 50_000
    rng = np.random.default_rng(0)
    count = n * d // 1000                                          # 0.1 % density: 5 million values, 20 MB
    X = sparse.csr_matrix((np.ones(count, np.float32), (rng.integers(0, n, count), rng.integers(0, d, count))),
                          shape=(n, d))
    left = np.asarray(X[:, : d // 2].sum(axis=1)).ravel()
    y = (left > np.asarray(X[:, d // 2:].sum(axis=1)).ravel()).astype(int)
    m = DNN(seed=0, threads=1, lr=0.1)
    m.addInputLayer([d])
    m.addHiddenLayer([8])
    m.addOutputLayer([2])
    # Dense, X is 20 GB. A batch of 128 dense rows is 25.6 MB, a prediction chunk at most 16 MB, the first layer's
    # weights and their gradient and velocity 1.6 MB each; 100 MB leaves room for scipy's row copies.
    tracemalloc.start()
    try:
        m.fit(X, y, epochs=1, batchSize=128, verbose=0)
        training_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        predicted = m.predict(X)
        predicting_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert training_peak < 100e6 and predicting_peak < 100e6
    assert predicted.shape == (n,)
    first = slice(0, 2000)
    np.testing.assert_array_equal(predicted[first], m.predict(X[first].toarray()))   # the dense answer


def test_a_sparse_matrix_gets_the_dense_checks_saying_it_is_sparse():
    m = model(40)
    with pytest.raises(ValueError, match=r"^X is empty: it has no samples$"):
        m.predict(sparse.csr_matrix((0, 40)))
    with pytest.raises(ValueError, match=r"^X must hold numbers, got a sparse matrix of dtype complex128$"):
        m.predict(sparse.csr_matrix(np.ones((2, 40), dtype=np.complex128)))
    with pytest.raises(ValueError, match=r"^X has 8 features but the input layer has 40 units$"):  # no reshape hint
        m.predict(sparse.csr_matrix(np.ones((5, 8))))
