"""ember.metrics: hand-computed small cases (arithmetic in the comments), then
comparisons with scikit-learn when it is installed."""

from __future__ import annotations

import warnings

import ember
import numpy as np
import pytest
from ember import metrics as M

# Multiclass case used throughout:
Y_TRUE = [0, 1, 2, 2, 2]
Y_PRED = [0, 0, 2, 2, 1]
# confusion matrix (rows = true class):  true 0 -> pred 0;  true 1 -> pred 0;
#                                          true 2 -> pred 2, 2, 1
# class 0: tp 1, predicted 2, support 1 -> P 1/2, R 1, F 2*1/(2*1 + 1 + 0) = 2/3
# class 1: tp 0, predicted 1, support 1 -> P 0,   R 0, F 0
# class 2: tp 2, predicted 2, support 3 -> P 1,   R 2/3, F 2*2/(2*2 + 0 + 1) = 4/5


def test_accuracy_labels_scores_tensors():
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(3 / 5)
    scores = ember.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], requires_grad=True)
    # argmax -> [0, 1, 0] vs [0, 1, 1]: 2 of 3
    assert M.accuracy(ember.tensor([0, 1, 1]), scores) == pytest.approx(2 / 3)
    one_hot = np.eye(2)[[0, 1, 1]]
    assert M.accuracy(one_hot, scores) == pytest.approx(2 / 3)
    # threshold 0.5 on probabilities [0.9, 0.2, 0.4] -> [1, 0, 0] vs [1, 0, 1]: 2 of 3
    assert M.accuracy([1, 0, 1], np.array([[0.9], [0.2], [0.4]]), threshold=0.5) == \
        pytest.approx(2 / 3)
    assert isinstance(M.accuracy(Y_TRUE, Y_PRED), float)


def test_top_k_accuracy():
    scores = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.8, 0.1, 0.1]])
    y = [2, 0, 1]
    # top-1 = argmax [1, 2, 0]: no hit
    assert M.top_k_accuracy(y, scores, k=1) == 0.0
    # top-2 (ties: the higher index first): {1, 2} hit; {2, 1} miss 0; {0, 2} miss 1 -> 1/3
    assert M.top_k_accuracy(y, scores, k=2) == pytest.approx(1 / 3)
    assert M.top_k_accuracy(y, scores, k=3) == 1.0
    with pytest.raises(ValueError, match="class indices"):
        M.top_k_accuracy([3, 0, 1], scores, k=1)


def test_confusion_matrix():
    cm = M.confusion_matrix(Y_TRUE, Y_PRED)
    assert cm.tolist() == [[1, 0, 0], [1, 0, 0], [0, 1, 2]]
    # num_classes fixes the size even when class 3 never occurs
    assert M.confusion_matrix(Y_TRUE, Y_PRED, num_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="label 2.*num_classes=2"):
        M.confusion_matrix(Y_TRUE, Y_PRED, num_classes=2)
    # rows normalised: row 2 = [0, 1, 2] / 3
    np.testing.assert_allclose(M.confusion_matrix(Y_TRUE, Y_PRED, normalize="true")[2],
                               [0, 1 / 3, 2 / 3])
    strings = M.confusion_matrix(["b", "a", "b"], ["b", "b", "a"], labels=["b", "a"])
    # true b -> b, a;  true a -> b
    assert strings.tolist() == [[1, 1], [1, 0]]


def test_precision_recall_f1_averages():
    p, r, f, s = M.precision_recall_fscore_support(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(p, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(r, [1.0, 0.0, 2 / 3])
    np.testing.assert_allclose(f, [2 / 3, 0.0, 0.8])
    assert s.tolist() == [1, 1, 3]
    # macro: plain means
    assert M.precision(Y_TRUE, Y_PRED, average="macro") == pytest.approx((0.5 + 0 + 1) / 3)
    assert M.recall(Y_TRUE, Y_PRED, average="macro") == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert M.f1_score(Y_TRUE, Y_PRED, average="macro") == pytest.approx((2 / 3 + 0 + 0.8) / 3)
    # weighted by support 1, 1, 3
    assert M.precision(Y_TRUE, Y_PRED, average="weighted") == pytest.approx(3.5 / 5)
    assert M.f1_score(Y_TRUE, Y_PRED, average="weighted") == pytest.approx((2 / 3 + 2.4) / 5)
    # micro: pooled tp 3 over 5 predictions and 5 true samples
    assert M.f1_score(Y_TRUE, Y_PRED, average="micro") == pytest.approx(0.6)


def test_binary_and_pos_label():
    y_true, y_pred = [1, 0, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0]
    # positive 1: tp 3, fp 1, fn 0 -> P 3/4, R 1, F 6/7
    assert M.precision(y_true, y_pred) == pytest.approx(3 / 4)
    assert M.recall(y_true, y_pred) == 1.0
    assert M.f1_score(y_true, y_pred) == pytest.approx(6 / 7)
    # positive 0: tp 2, fp 0, fn 1 -> P 1, R 2/3, F 4/5
    assert M.precision(y_true, y_pred, pos_label=0) == 1.0
    assert M.f1_score(y_true, y_pred, pos_label=0) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="multiclass"):
        M.f1_score(Y_TRUE, Y_PRED)
    with pytest.raises(ValueError, match="pos_label=5"):
        M.f1_score(y_true, y_pred, pos_label=5)


def test_zero_division():
    # nothing predicted positive: P = 0/0 -> zero_division; R = 0/1 = 0; F = 0/(1 + 0) = 0
    y_true, y_pred = [0, 0, 1], [0, 0, 0]
    assert M.precision(y_true, y_pred) == 0.0
    assert M.precision(y_true, y_pred, zero_division=1) == 1.0
    assert M.f1_score(y_true, y_pred, zero_division=1) == 0.0
    # no positives at all: P, R and F are all 0/0
    assert M.f1_score([0, 0], [0, 0], zero_division=1) == 1.0
    assert np.isnan(M.recall([0, 0], [0, 0], zero_division=np.nan))
    # macro with nan: class 2 is never predicted -> its precision is left out of the mean:
    # class 0: 1/1, class 1: 1/2 -> (1 + 0.5) / 2
    assert M.precision([0, 1, 2], [0, 1, 1], average="macro", zero_division=np.nan) == 0.75
    with pytest.warns(UserWarning, match="ill-defined"):
        M.precision(y_true, y_pred, zero_division="warn")
    with pytest.raises(ValueError, match="zero_division"):
        M.precision(y_true, y_pred, zero_division=2)


def test_classification_report_text():
    report = M.classification_report(Y_TRUE, Y_PRED)
    lines = report.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[2].split() == ["0", "0.50", "1.00", "0.67", "1"]
    assert lines[6].split() == ["accuracy", "0.60", "5"]
    # macro: P 0.5, R 5/9 = 0.56, F (2/3 + 0.8)/3 = 0.49; weighted: 0.70, 0.60, 0.61
    assert lines[7].split() == ["macro", "avg", "0.50", "0.56", "0.49", "5"]
    assert lines[8].split() == ["weighted", "avg", "0.70", "0.60", "0.61", "5"]
    named = M.classification_report(Y_TRUE, Y_PRED, target_names=["cat", "dog", "pig"])
    assert "pig" in named


def test_regression_metrics():
    y, y_hat = [3, -0.5, 2, 7], [2.5, 0.0, 2, 8]
    # errors 0.5, 0.5, 0, 1
    assert M.mean_absolute_error(y, y_hat) == pytest.approx(2 / 4)
    assert M.mean_squared_error(y, y_hat) == pytest.approx(1.5 / 4)
    assert M.root_mean_squared_error(y, y_hat) == pytest.approx(np.sqrt(1.5 / 4))
    # mean(y) = 2.875; SS_tot = 0.125^2 + 3.375^2 + 0.875^2 + 4.125^2 = 29.1875; SS_res = 1.5
    assert M.r2_score(y, y_hat) == pytest.approx(1 - 1.5 / 29.1875)
    # (N,) against (N, 1) model outputs is fine
    assert M.mean_squared_error(ember.tensor(y), ember.tensor(y_hat).reshape(4, 1)) == \
        pytest.approx(0.375)
    # constant targets: 1 if predicted exactly, else 0
    assert M.r2_score([1, 1], [1, 1]) == 1.0 and M.r2_score([1, 1], [1, 2]) == 0.0
    two = M.mean_absolute_error([[1, 2], [3, 4]], [[1, 3], [3, 6]], multioutput="raw_values")
    assert two.tolist() == [0.0, 1.5]


def test_length_and_shape_errors():
    with pytest.raises(ValueError, match="y_true has 3 samples but y_pred has 2"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="y_true has 5 samples but y_pred has 4"):
        M.f1_score(Y_TRUE, Y_PRED[:4], average="macro")
    with pytest.raises(ValueError, match=r"shape \(3, 1\) but y_pred has shape \(2, 1\)"):
        M.mean_squared_error([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        M.accuracy([], [])
    with pytest.raises(ValueError, match="average"):
        M.f1_score(Y_TRUE, Y_PRED, average="samples")


# ----------------------------------------------------------------------------- sklearn
@pytest.fixture
def skm():
    return pytest.importorskip("sklearn.metrics")


def _random_cases(n_cases=40):
    rng = np.random.default_rng(0)
    for i in range(n_cases):
        n, c = int(rng.integers(1, 25)), int(rng.integers(2, 5))
        y_true = rng.integers(0, c, n)
        y_pred = np.zeros(n, int) if i % 4 == 0 else rng.integers(0, c, n)  # zero divisions
        yield y_true, y_pred


def test_prf_matches_sklearn(skm):
    for y_true, y_pred in _random_cases():
        for average in ("binary", "micro", "macro", "weighted", None):
            for zd in (0.0, 1.0, np.nan):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        expected = skm.precision_recall_fscore_support(
                            y_true, y_pred, average=average, zero_division=zd)
                    except ValueError:
                        with pytest.raises(ValueError):
                            M.precision_recall_fscore_support(y_true, y_pred, average=average,
                                                              zero_division=zd)
                        continue
                got = M.precision_recall_fscore_support(y_true, y_pred, average=average,
                                                        zero_division=zd)
                for a, b in zip(got, expected):
                    if b is None:
                        assert a is None
                    else:
                        np.testing.assert_allclose(a, b, equal_nan=True)


def test_confusion_report_and_regression_match_sklearn(skm):
    for y_true, y_pred in _random_cases(20):
        np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred),
                                      skm.confusion_matrix(y_true, y_pred))
        assert M.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    # sklearn's report prints supports as floats when no class has a true positive (an
    # artefact of its float bincount), so compare on a case with hits
    assert M.classification_report(Y_TRUE, Y_PRED, digits=3) == \
        skm.classification_report(Y_TRUE, Y_PRED, digits=3, zero_division=0)
    labels_subset = M.classification_report(Y_TRUE, Y_PRED, labels=[0, 2])
    assert labels_subset == skm.classification_report(Y_TRUE, Y_PRED, labels=[0, 2],
                                                      zero_division=0)
    rng = np.random.default_rng(1)
    y, y_hat = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    for name in ("mean_absolute_error", "mean_squared_error", "r2_score"):
        assert getattr(M, name)(y, y_hat) == pytest.approx(getattr(skm, name)(y, y_hat))
    scores = rng.normal(size=(30, 4))
    labels = rng.integers(0, 4, 30)
    for k in (1, 2, 3):
        assert M.top_k_accuracy(labels, scores, k) == pytest.approx(
            skm.top_k_accuracy_score(labels, scores, k=k, labels=range(4)))
