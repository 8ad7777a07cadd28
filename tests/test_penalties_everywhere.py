"""The L1 penalty counts wherever the loss is reported, as L2 does; the wrappers leave epsilon to the optimizer."""

import numpy as np
import pytest

from dnn import DNN


def test_model_evaluate_reports_the_loss_fit_validated_with_both_penalties():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    model = DNN(lr=0.05, l1=0.01, l2=0.01, seed=0, threads=1)
    model.addInputLayer([4])
    model.addHiddenLayer([5], activation="tanh")
    model.addOutputLayer([2])
    model.fit(X, y, epochs=2, batchSize=20, verbose=0, validationData=(X, y))
    weights = [model.w[2], model.w[3]]
    l1 = 0.01 * sum(float(np.abs(w).sum()) for w in weights)
    l2 = 0.01 / 2 * sum(float((w.astype(np.float64) ** 2).sum()) for w in weights)
    evaluated = model.modelEvaluate(X, y, verbose=0)["loss"]
    assert evaluated == pytest.approx(model.history["val_loss"][-1], rel=1e-6)
    plain = evaluated - l1 - l2                              # the data term alone
    p = model.predictProba(X).astype(np.float64)
    assert plain == pytest.approx(-np.mean(np.log(p[np.arange(60), y])), rel=1e-5)


def test_the_scikit_learn_wrappers_leave_epsilon_to_the_chosen_optimizer():
    sklearn = pytest.importorskip("dnn.sklearn")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30)
    fitted = sklearn.DNNClassifier(optimizer="adagrad", epochs=1, random_state=0).fit(X, y)
    assert fitted.model_.optimizer.epsilon == 1e-10            # torch.optim.Adagrad's default, not Adam's 1e-8
    fitted = sklearn.DNNClassifier(optimizer="adam", epochs=1, random_state=0).fit(X, y)
    assert fitted.model_.optimizer.epsilon == 1e-8
