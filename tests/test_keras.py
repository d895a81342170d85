"""ember.keras: the classic Keras tutorial snippets run with only their imports changed,
and compile/fit/evaluate/predict, callbacks, summary, errors and progress output behave
like Keras."""

import math

import ember
import numpy as np
import pytest
from ember.keras import callbacks, losses, optimizers
from ember.keras.callbacks import (
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
)
from ember.keras.layers import (
    LSTM,
    AveragePooling2D,
    BatchNormalization,
    Bidirectional,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    MaxPooling2D,
)
from ember.keras.models import Sequential
from ember.keras.utils import to_categorical
from ember.progress import ProgressBar, progress


def _blobs(n=120, d=6, classes=3, seed=0):
    """Well separated Gaussian blobs: (x float32, y int)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, d))
    y = np.arange(n) % classes
    x = centers[y] + rng.normal(0, 0.5, (n, d))
    return x.astype(np.float32), y


def _mlp(d=6, classes=3):
    return Sequential([Dense(16, activation="relu", input_shape=(d,)),
                       Dense(classes, activation="softmax")])


# ------------------------------------------------------------------------------ tutorials
def test_mnist_style_snippet_on_digits(capsys):
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm]
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

    # --- the tutorial, imports aside (784 -> 64 inputs for the 8x8 digits)
    model = Sequential([
        Dense(128, activation="relu", input_shape=(64,)),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.1)
    loss, acc = model.evaluate(x_test, y_test)
    # ---

    assert acc >= 0.90, acc
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 5 for v in history.history.values())
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.history is history
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 6  # not a terminal: one line per epoch, one for evaluate
    assert out[0].startswith("Epoch 1/5") and "val_accuracy" in out[0]


def _toy_reviews(n, rng):
    filler = "the movie was a plot actor story film scene really quite very just it".split()
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(filler, size=rng.integers(3, 9)))
        label = i % 2
        words.insert(rng.integers(0, len(words) + 1), "good" if label else "bad")
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


def test_sentiment_lstm_snippet():
    from ember.keras.preprocessing.sequence import pad_sequences
    from ember.keras.preprocessing.text import Tokenizer

    rng = np.random.default_rng(0)
    texts, labels = _toy_reviews(400, rng)
    vocab, maxlen = 50, 12

    # --- the tutorial, imports aside
    tokenizer = Tokenizer(num_words=vocab)
    tokenizer.fit_on_texts(texts[:300])
    x = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=maxlen)
    model = Sequential([
        Embedding(vocab, 32, input_length=maxlen),
        LSTM(32, return_sequences=True),
        LSTM(32),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:300], labels[:300], epochs=12, batch_size=32, verbose=0)
    loss, acc = model.evaluate(x[300:], labels[300:], verbose=0)
    # ---

    assert acc > 0.9, acc
    assert model.predict(x[300:305]).shape == (5, 1)


def test_preprocessing_is_ember_data_text():
    import ember.data.text as data_text
    from ember.keras.preprocessing import sequence, text

    assert text.Tokenizer is data_text.Tokenizer
    assert sequence.pad_sequences is data_text.pad_sequences
    assert ember.keras.preprocessing.text.Tokenizer is data_text.Tokenizer


# ------------------------------------------------------------------------------ fit details
def test_validation_split_takes_the_last_fraction():
    x, y = _blobs(80)
    a, b = _mlp(), _mlp()
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    ha = a.fit(x, y, epochs=3, validation_split=0.25, shuffle=False, verbose=0)
    hb = b.fit(x[:60], y[:60], epochs=3, validation_data=(x[60:], y[60:]), shuffle=False,
               verbose=0)
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(ha.history[key], hb.history[key], rtol=1e-6)


def test_evaluate_and_predict_shapes():
    x, y = _blobs(50)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
    result = model.evaluate(x, y, batch_size=7, verbose=0)
    assert isinstance(result, list) and len(result) == 3
    assert model.metrics_names == ["loss", "accuracy", "sparse_top_k_categorical_accuracy"]
    assert result[2] == 1.0  # top-5 of 3 classes
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(d) == model.metrics_names
    p = model.predict(x, batch_size=16)
    assert isinstance(p, np.ndarray) and p.shape == (50, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    # lists and ember tensors are accepted too
    np.testing.assert_allclose(model.predict(x.tolist()), p, rtol=1e-6)
    np.testing.assert_allclose(model.predict(ember.tensor(x)), p, rtol=1e-6)
    assert model.training  # fit/evaluate/predict restore the mode


def test_softmax_loss_is_exact_for_saturated_outputs():
    # logits of 0 and 200: the probability of class 0 rounds to 0, log(p) would be -inf,
    # Keras's clipping would give -log(1e-7) = 16.1; the logits path gives exactly 200.
    model = Sequential([Dense(2, activation="softmax", input_shape=(1,))])
    model.set_weights([np.array([[0.0], [200.0]], np.float32), np.zeros(2, np.float32)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(np.ones((4, 1)), np.zeros(4), verbose=0)
    assert math.isclose(loss, 200.0, rel_tol=1e-5)
    x, y = np.ones((4, 1)), np.zeros(4)
    model.fit(x, y, epochs=1, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    # sigmoid + binary cross-entropy likewise: softplus(60) = 60
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(1,))])
    model.set_weights([np.array([[60.0]], np.float32), np.zeros(1, np.float32)])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    assert math.isclose(model.evaluate(x, np.zeros(4), verbose=0), 60.0, rel_tol=1e-5)
    # the probability path (a loss function without logits) clips like Keras
    p = ember.tensor([[1.0, 0.0]])
    assert math.isclose(losses.sparse_categorical_crossentropy([1], p).item(),
                        -math.log(1e-7), rel_tol=1e-4)


def test_categorical_crossentropy_and_to_categorical():
    x, y = _blobs(90)
    onehot = to_categorical(y)
    assert onehot.shape == (90, 3) and onehot.dtype == np.float32
    np.testing.assert_array_equal(onehot.argmax(1), y)
    assert to_categorical([[1], [0]], 4).shape == (2, 4)
    with pytest.raises(ValueError, match="out of range"):
        to_categorical([0, 5], num_classes=3)
    model = _mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, onehot, epochs=15, batch_size=16, verbose=0)
    assert h.history["accuracy"][-1] > 0.9


def test_regression_with_mae_metric_and_ember_optimizer():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3  # shape (N,) against outputs (N, 1)
    model = Sequential([Dense(1, input_dim=3)])
    model.compile(optimizer=ember.optim.SGD(model.parameters(), lr=0.1), loss="mse",
                  metrics=["mae"])
    h = model.fit(x, y, epochs=20, verbose=0)
    assert h.history["loss"][-1] < 1e-3 and h.history["mae"][-1] < 0.03
    assert model.optimizer.learning_rate == 0.1


# ------------------------------------------------------------------------------ summary
def test_summary_names_shapes_and_counts():
    model = Sequential([Input(shape=(64,)), Dense(32, activation="relu"), Dropout(0.5),
                        BatchNormalization(), Dense(10, activation="softmax")],
                       name="digits")
    text = model.summary(print_fn=None)
    assert 'Model: "digits"' in text
    for name, cls, shape, count in [("dense", "Dense", "(None, 32)", 64 * 32 + 32),
                                    ("dropout", "Dropout", "(None, 32)", 0),
                                    ("batch_normalization", "BatchNormalization",
                                     "(None, 32)", 4 * 32),
                                    ("dense_1", "Dense", "(None, 10)", 32 * 10 + 10)]:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{name} ("))
        assert f"({cls})" in line and shape in line and line.rstrip().endswith(str(count))
    total = model.count_params()
    n_params = sum(p.numel() for p in model.parameters())
    assert total == n_params + 2 * 32  # + BatchNorm's moving mean/variance, as in Keras
    assert total == sum(w.size for w in model.get_weights())
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {n_params:,}" in text
    assert "Non-trainable params: 64" in text
    assert [layer.name for layer in model.layers] == ["dense", "dropout",
                                                      "batch_normalization", "dense_1"]


def test_lazy_layers_build_from_data():
    x, y = _blobs(40)
    model = Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="input_shape"):
        model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.count_params() == 6 * 8 + 8 + 8 * 3 + 3
    assert "(None, 3)" in model.summary(print_fn=None)


def test_conv_layers_are_channels_last():
    x = np.random.default_rng(0).random((2, 7, 7, 3)).astype(np.float32)
    conv = Conv2D(5, 3, strides=2, padding="same")
    assert tuple(conv(x).shape) == (2, 4, 4, 5)  # TensorFlow's ceil(7 / 2)
    assert tuple(conv.conv.weight.shape) == (5, 3, 3, 3)
    assert tuple(Conv2D(4, (3, 2))(x).shape) == (2, 5, 6, 4)
    assert tuple(MaxPooling2D(2, padding="same")(x).shape) == (2, 4, 4, 3)
    assert tuple(MaxPooling2D()(x).shape) == (2, 3, 3, 3)
    # 'same' average pooling averages the real cells only
    ones = np.ones((1, 5, 5, 2), np.float32)
    np.testing.assert_allclose(AveragePooling2D(3, 1, "same")(ones).numpy(), 1.0, rtol=1e-6)
    # max pooling picks the same values as NumPy on the NHWC layout
    ref = x[:, :6, :6].reshape(2, 3, 2, 3, 2, 3).max((2, 4))
    np.testing.assert_allclose(MaxPooling2D()(x).numpy(), ref)

    images = np.random.default_rng(1).random((40, 8, 8, 1)).astype(np.float32)
    labels = (images[:, :, :4].mean((1, 2, 3)) > images[:, :, 4:].mean((1, 2, 3))).astype(int)
    model = Sequential([Conv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
                        MaxPooling2D(), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    h = model.fit(images, labels, epochs=3, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert "(None, 8, 8, 4)" in model.summary(print_fn=None)


def test_batchnorm_momentum_and_recurrent_initialisers():
    bn = BatchNormalization(momentum=0.9)
    bn(np.ones((4, 3), np.float32))
    assert math.isclose(bn.bn.momentum, 0.1) and bn.bn.eps == 1e-3
    lstm = LSTM(4)
    lstm(np.zeros((2, 5, 3), np.float32))
    b = lstm.rnn.bias_ih_l0.detach().numpy()
    np.testing.assert_array_equal(b[4:8], 1.0)  # forget gate starts open
    assert np.count_nonzero(b) == 4
    w_hh = lstm.rnn.weight_hh_l0.detach().numpy()  # (16, 4): orthonormal columns
    np.testing.assert_allclose(w_hh.T @ w_hh, np.eye(4), atol=1e-5)


def test_mask_zero_skips_padding():
    model = Sequential([Embedding(10, 4, mask_zero=True), LSTM(3), Dense(1)])
    short = model.predict(np.array([[5, 6]]))
    padded = model.predict(np.array([[0, 0, 0, 5, 6]]))
    np.testing.assert_allclose(short, padded, rtol=1e-5, atol=1e-6)
    bi = Sequential([Embedding(10, 4, mask_zero=True), Bidirectional(LSTM(3)), Dense(1)])
    np.testing.assert_allclose(bi.predict(np.array([[5, 6]])),
                               bi.predict(np.array([[0, 0, 5, 6]])), rtol=1e-5, atol=1e-6)
    assert bi.layers[1].output_shape == (None, 6)


# ------------------------------------------------------------------------------ callbacks
def test_early_stopping_stops_and_restores_best_weights():
    x, y = _blobs(40)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    scores = [3.0, 1.0, 2.0, 4.0, 5.0, 0.5, 0.1, 0.1]
    snapshots = []

    def record(epoch, logs):
        logs["score"] = scores[epoch]
        snapshots.append(model.get_weights())

    stop = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    h = model.fit(x, y, epochs=8, verbose=0,
                  callbacks=[LambdaCallback(on_epoch_end=record), stop])
    assert h.epoch == [0, 1, 2, 3] and len(h.history["loss"]) == 4
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1
    for w, best in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(w, best)
    assert not np.array_equal(snapshots[1][0], snapshots[3][0])


def test_model_checkpoint_writes_files(tmp_path):
    pytest.importorskip("safetensors")
    x, y = _blobs(60)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    every = ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.safetensors"))
    best = ModelCheckpoint(str(tmp_path / "best.safetensors"), monitor="val_loss",
                           save_best_only=True, save_weights_only=True)
    h = model.fit(x, y, epochs=3, validation_split=0.2, verbose=0, callbacks=[every, best])
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = [f"ckpt-{e + 1:02d}-{v:.2f}.safetensors"
                for e, v in enumerate(h.history["val_loss"])]
    assert [n for n in names if n.startswith("ckpt")] == sorted(expected)
    assert "best.safetensors" in names

    other = _mlp()
    other.load_weights(str(tmp_path / expected[-1]))  # a full checkpoint from save()
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.save_weights(str(tmp_path / "w.safetensors"))
    other.set_weights([np.zeros_like(w) for w in other.get_weights()])
    other.load_weights(str(tmp_path / "w.safetensors"))
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


def test_learning_rate_scheduler_changes_lr():
    x, y = _blobs(40)
    model = _mlp()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy")
    seen = []
    sched = LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    spy = LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        model.optimizer.optimizer.param_groups[0]["lr"]))
    h = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched, spy])
    assert seen == [0.1, 0.05, 0.025]
    assert h.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert model.optimizer.learning_rate == 0.025


def test_custom_callback_hooks_order():
    events = []

    class Recorder(callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs=None):
            events.append("batch")
            assert "loss" in logs

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end {epoch}")

        def on_train_end(self, logs=None):
            events.append("train_end")

    x, y = _blobs(20)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[Recorder()],
              initial_epoch=0)
    assert events == ["train_begin", "epoch_begin 0", "batch", "batch", "epoch_end 0",
                      "epoch_begin 1", "batch", "batch", "epoch_end 1", "train_end"]


# ------------------------------------------------------------------------------ errors
def test_bad_inputs_raise_clear_errors():
    x, y = _blobs(30)
    model = _mlp()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="known losses:.*sparse_categorical_crossentropy"):
        model.compile(optimizer="adam", loss="crossentropyy")
    with pytest.raises(ValueError, match="known optimizers: adagrad, adam, adamw, rmsprop, sgd"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="known metrics:.*accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="known activations:.*relu"):
        Dense(3, activation="rleu")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="same number of samples.*30.*29"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="label 7 is out of range.*3 outputs"):
        model.fit(x, np.where(y == 2, 7, y), verbose=0)
    with pytest.raises(ValueError, match="label -1 is out of range"):
        model.evaluate(x, y - 1, verbose=0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 6\)"):
        model.fit(x[:, :4], y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="to_categorical"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="targets must be in"):
        _fit_binary(x, y * 3.0)
    emb = Sequential([Embedding(5, 2), Flatten(), Dense(1)])
    emb.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="token id 9 is out of range"):
        emb.fit(np.array([[1, 9]]), np.array([0.0]), verbose=0)


def _fit_binary(x, y):
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(x.shape[1],))])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, verbose=0)


# ------------------------------------------------------------------------------ progress
def test_fit_progress_output(capsys):
    x, y = _blobs(40)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x)
    assert capsys.readouterr().out == ""
    for verbose in (1, 2, "auto"):  # stdout is not a terminal: one line per epoch
        model.fit(x, y, epochs=3, batch_size=4, verbose=verbose)
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 3, lines
        for i, line in enumerate(lines):
            assert line.startswith(f"Epoch {i + 1}/3") and "10/10" in line
            assert "loss: " in line and "accuracy: " in line


def test_progress_helper(capsys):
    bar = progress(range(5), desc="work")
    assert sum(bar) == 10
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("work - 5/5")
    items = []
    for i in (it := progress(iter(range(3)), desc="gen")):
        items.append(i)
        it.set_postfix(loss=0.5)
    assert items == [0, 1, 2] and "loss: 0.5000" in capsys.readouterr().out
    for _ in progress(range(3), enabled=False):
        pass
    with ProgressBar(total=2, desc="manual") as pb:
        pb.update(2, acc=1.0)
    assert capsys.readouterr().out.startswith("manual - 2/2")
    # a live plain-text bar redraws in place with \r and ends with one newline
    import io

    buf = io.StringIO()
    live = ProgressBar(total=3, desc="live", live=True, file=buf, use_tqdm=False)
    for _ in range(3):
        live.update(1, loss=1.0)
    live.close()
    assert buf.getvalue().count("\n") == 1 and "\r" in buf.getvalue()


def test_layers_package_keeps_every_public_name_and_path():
    # keras/layers is a package split by family; the flat import paths of Keras still hold
    import ember.keras
    import ember.keras.layers as layers

    assert len(layers.__all__) == len(set(layers.__all__))
    for name in layers.__all__:
        obj = getattr(layers, name)
        assert getattr(ember.keras.layers, name) is obj
        if isinstance(obj, type):
            assert obj.__module__.startswith("ember.keras.layers."), (name, obj.__module__)
            assert issubclass(obj, layers.Layer)
    # each family lives in its own module, the base class in base.py
    assert layers.Layer.__module__ == "ember.keras.layers.base"
    assert layers.Dense.__module__ == "ember.keras.layers.core"
    assert layers.LSTM.__module__ == "ember.keras.layers.recurrent"
    assert layers.get_activation("relu")[0] == "relu"
    assert callable(layers.get_initializer("glorot_uniform"))


def test_history_is_a_callback_in_keras_callbacks():
    # as keras.callbacks.History: one home, re-exported as ember.keras.History
    import ember.keras

    assert ember.keras.History is callbacks.History
    assert issubclass(callbacks.History, callbacks.Callback)
    h = callbacks.History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5})
    assert h.history == {"loss": [1.0, 0.5]} and h.epoch == [0, 1]
    assert repr(h) == "History(epochs=2, keys=[loss])"
