"""``ember.keras``: the Keras-style API the classic tutorials use, on top of ember.

``Sequential([...])``, ``compile`` / ``fit`` / ``evaluate`` / ``predict``, Keras layer names
and arguments (``Dense(64, activation='relu')``, ``Conv2D`` on channels-last images),
callbacks, ``Tokenizer`` and ``pad_sequences``. Everything is built from ``ember.nn``
modules and ``ember.optim`` optimizers: a ``Sequential`` is an ``ember.nn.Module``. Port a
tutorial by changing only its imports::

    from ember.keras.models import Sequential
    from ember.keras.layers import Dense

    model = Sequential([Dense(128, activation="relu", input_shape=(784,)),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, validation_split=0.1)
"""

from . import (
    activations,
    callbacks,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    preprocessing,
    utils,
)
from .callbacks import History
from .models import Sequential

__all__ = ["Sequential", "History", "activations", "callbacks", "initializers", "layers",
           "losses", "metrics", "models", "optimizers", "preprocessing", "utils"]

