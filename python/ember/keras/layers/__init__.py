"""Keras-style layers, each a thin wrapper around ``ember.nn`` modules, one file per family.

=================  ==========================================================================
``base``           ``Layer``: an ``ember.nn.Module`` built lazily from its first input
``core``           Input, Dense, Activation, Flatten, Reshape, Dropout, Lambda
``convolutional``  Conv2D (channels-last, TensorFlow's 'same' padding; shared in ``spatial``)
``pooling``        MaxPooling2D, AveragePooling2D, Global{Average,Max}Pooling2D/1D
``normalization``  BatchNormalization, LayerNormalization
``embedding``      Embedding (``mask_zero`` makes the padding mask)
``recurrent``      SimpleRNN, LSTM, GRU, Bidirectional (mask-aware)
=================  ==========================================================================

Initialisers follow Keras: Glorot-uniform kernels, zero biases, orthogonal recurrent
kernels, LSTM forget-gate bias 1, U(-0.05, 0.05) embeddings (``ember.keras.initializers``).
Weight *layouts* are ember's (PyTorch's), e.g. a Dense kernel is (units, input_dim), not
Keras's (input_dim, units). Every layer is importable from here, as in Keras:
``from ember.keras.layers import Dense``.
"""

from ..activations import get_activation
from ..initializers import get_initializer
from .base import Layer
from .convolutional import Conv2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Lambda, Reshape
from .embedding import Embedding
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN

__all__ = [
    "Layer", "InputLayer", "Input", "Dense", "Activation", "Flatten", "Dropout", "Reshape",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "GlobalAveragePooling1D", "Embedding", "SimpleRNN", "LSTM", "GRU",
    "Bidirectional", "BatchNormalization", "LayerNormalization", "Lambda",
    "get_activation", "get_initializer",
]
