"""``ember.ops``: every differentiable op, defined once, device-agnostic.

Each op is a ``Function`` (forward on backend arrays, backward on Tensors) or a
composition of other ops. The files group them by kind:

- ``elementwise``  + - * / pow, exp, log, sqrt, abs, sin, cos, tanh, erf, maximum, where, clamp
- ``activation``   sigmoid, relu, leaky_relu, gelu, softplus, silu, elu
- ``reduce``       sum, mean, var, std, max/min, argmax/argmin, logsumexp, softmax, norm
- ``shape``        reshape, permute, expand, cat/stack/split, casts and copies
- ``index``        getitem, gather, scatter/scatter_add, index_select/index_add, masked_fill,
                   narrow, tril/triu, unfold, pad (slicing's adjoint)
- ``linalg``       matmul, mm/bmm, addmm/baddbmm
- ``sorting``      sort, argsort, topk
- ``compare``      == != < <= > >=, logical ops (no gradient)
- ``conv``         conv1d, conv2d, conv_transpose2d (native im2col + GEMM kernels)
- ``pool``         max/avg pooling 1d/2d, adaptive_avg_pool2d, interpolate
- ``attention``    scaled_dot_product_attention (fused native kernel), attention_reference
- ``normalization`` layer_norm (one fused op; batch norm stays composite in nn.functional)
- ``einsum``       einsum, lowered to permute / reshape / diagonal / sum / batched matmul
- ``products``     tensordot, inner, kron, cross, ger, cdist
- ``counting``     unique, unique_consecutive, bincount, argwhere, count_nonzero
- ``statistics``   kthvalue, median, nansum, nanmean
- ``polar``        atan2, hypot
"""

from .activation import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus
from .attention import attention_reference, scaled_dot_product_attention
from .compare import (
    allclose,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    eq,
    equal,
    ge,
    greater,
    greater_equal,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
    not_equal,
)
from .conv import conv1d, conv2d, conv_transpose2d
from .elementwise import (
    abs,
    absolute,
    add,
    ceil,
    clamp,
    clip,
    cos,
    div,
    divide,
    erf,
    exp,
    floor,
    floor_divide,
    log,
    log1p,
    logaddexp,
    maximum,
    minimum,
    mul,
    neg,
    negative,
    pow,
    reciprocal,
    round,
    rsqrt,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tanh,
    true_divide,
    where,
)
from .index import (
    gather,
    getitem,
    index_add,
    index_put,
    index_select,
    masked_fill,
    narrow,
    pad,
    prepare_setitem,
    scatter,
    scatter_add,
    take,
    tril,
    triu,
    unfold,
)
from .linalg import addmm, baddbmm, bmm, dot, matmul, mm, outer
from .pool import (
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    interpolate,
    max_pool1d,
    max_pool2d,
    upsample,
)
from .reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    softmax,
    std,
    sum,
    var,
)
from .shape import (
    broadcast_to,
    cast,
    cat,
    chunk,
    clone,
    concat,
    concatenate,
    contiguous,
    expand,
    expand_as,
    flatten,
    permute,
    repeat,
    reshape,
    reshape_as,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    t,
    to_device,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    view,
    view_as,
)
from .sorting import argsort, sort, topk

# Ops that are also Tensor methods: x.exp(), x.sum(1), x.reshape(2, 3), ...
TENSOR_METHODS = [
    "abs", "absolute", "add", "ceil", "clamp", "clip", "cos", "div", "divide", "erf", "exp",
    "floor", "floor_divide", "log", "log1p", "logaddexp", "maximum", "minimum", "mul", "neg",
    "negative",
    "pow", "reciprocal", "round", "rsqrt", "sign", "sin", "sqrt", "square", "sub", "tanh",
    "true_divide",
    "sigmoid", "relu", "leaky_relu", "gelu", "softplus", "silu", "elu",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_xor",
    "logical_not", "isnan", "isinf", "isfinite",
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
    "logsumexp", "softmax", "log_softmax", "norm", "all", "any",
    "reshape", "view", "view_as", "reshape_as", "flatten", "unflatten", "squeeze", "unsqueeze",
    "permute", "transpose", "swapaxes", "t", "expand", "expand_as", "broadcast_to", "sum_to",
    "repeat", "split", "chunk", "unbind",
    "gather", "scatter_add", "index_select", "masked_fill", "take",
    "narrow", "scatter", "index_add", "tril", "triu", "unfold",
    "matmul", "mm", "bmm", "dot", "outer", "addmm", "baddbmm",
    "sort", "argsort", "topk",
]

# Ops with an in-place twin on Tensor: x.exp_(), x.masked_fill_(mask, v), ... (see
# Tensor._inplace for how they behave inside a graph)
INPLACE_METHODS = [
    "abs", "neg", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
    "relu", "sign", "floor", "ceil", "round", "reciprocal", "square", "erf",
    "masked_fill", "scatter", "scatter_add", "index_add", "tril", "triu", "clamp",
]

__all__ = sorted(
    {n for n in dir() if not n.startswith("_") and n not in ("TENSOR_METHODS", "INPLACE_METHODS",
     "activation",
     "attention", "compare", "conv", "elementwise", "index", "linalg", "pool", "reduce", "shape",
     "sorting",
     "prepare_setitem", "index_put", "cast", "to_device", "sum_to")}
)

# PyTorch API composed from the ops above (flip, roll, cumsum, diag, ...; see composite.py)
from . import composite as _composite  # noqa: E402
from .composite import *  # noqa: E402,F401,F403

TENSOR_METHODS += _composite.TENSOR_METHODS
__all__ = sorted({*__all__, *_composite.__all__})

# Einstein summation over the ops above (permute / reshape / diagonal / sum / matmul), and the
# products and distances built on it (tensordot, inner, kron, cross, cdist)
from . import products as _products  # noqa: E402
from .einsum import einsum  # noqa: E402
from .products import *  # noqa: E402,F401,F403

TENSOR_METHODS += _products.TENSOR_METHODS
__all__ = sorted({*__all__, "einsum", *_products.__all__})

# Counts and positions (unique, bincount, ...; ops/counting.py)
from . import counting as _counting  # noqa: E402
from .counting import *  # noqa: E402,F401,F403

TENSOR_METHODS += _counting.TENSOR_METHODS
__all__ = sorted({*__all__, *_counting.__all__})

# Order statistics and NaN-skipping reductions (ops/statistics.py); atan2, hypot (ops/polar.py)
from . import polar as _polar  # noqa: E402
from . import statistics as _statistics  # noqa: E402
from .polar import *  # noqa: E402,F401,F403
from .statistics import *  # noqa: E402,F401,F403

TENSOR_METHODS += _statistics.TENSOR_METHODS + _polar.TENSOR_METHODS
__all__ = sorted({*__all__, *_statistics.__all__, *_polar.__all__})
