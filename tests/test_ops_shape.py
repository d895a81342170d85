"""Shape ops beyond the op table (tests/op_table.py checks each op's values and
gradients): views sharing memory, the method and alias forms, promotion, dtype casts and
the error messages."""

import ember
import numpy as np
import pytest
from ember.autograd import gradcheck, gradgradcheck
from helpers import assert_close, check_op, grad_of, leaf, noncontig_leaf, np_of, rand


# ---------------------------------------------------------------------------- reshape / view
def test_view_as_reshape_as():
    a, b = rand((2, 6), 3), np.zeros((3, 4))
    assert_close(leaf(a).view_as(ember.tensor(b)), a.reshape(3, 4))
    assert_close(leaf(a).reshape_as(ember.tensor(b)), a.reshape(3, 4))


@pytest.mark.parametrize("shape", [(5,), (4, 4), (-1, 5), (-1, -1), (2, -3)])
def test_reshape_to_incompatible_size_raises(shape):
    x = leaf(rand((2, 6), 4))
    with pytest.raises(ValueError, match=r"reshape: .*\(2, 6\)|reshape: .*-1|reshape: invalid"):
        x.reshape(*shape)


def test_reshape_error_names_shape_and_numel():
    with pytest.raises(ValueError, match=r"reshape: shape \(5,\) is invalid for a tensor of 12 "
                                         r"elements \(shape \(2, 6\)\)"):
        ember.zeros(2, 6).reshape(5)


def test_reshape_shares_memory_and_version():
    x = ember.zeros(2, 3)
    y = x.view(6)
    y[0] = 5.0
    assert x[0, 0].item() == 5.0


# ---------------------------------------------------------------------------- permute / transpose
@pytest.mark.parametrize("dims", [(0, 1), (0, 0), (0, 1, 1), (0, 1, 3)])
def test_permute_bad_dims_raise(dims):
    x = leaf(rand((2, 3, 4), 7))
    with pytest.raises((ValueError, IndexError), match=r"permute: .*(permutation|out of range)"):
        x.permute(*dims)


def test_T_mT_and_t():
    a = rand((2, 3, 4), 9)
    check_op(lambda x: x.T, lambda x: x.T, a)
    check_op(lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2), a)
    m = rand((3, 4), 10)
    check_op(lambda x: x.t(), lambda x: x.T, m)
    v = rand((4,), 11)
    assert_close(leaf(v).t(), v)
    assert_close(leaf(v).T, v)
    with pytest.raises(ValueError, match=r"t: .*\(2, 3, 4\)"):
        leaf(a).t()


def test_transpose_dim_out_of_range():
    with pytest.raises(IndexError, match="transpose: dimension 3 is out of range"):
        ember.zeros(2, 3).transpose(0, 3)


# ---------------------------------------------------------------------------- flatten / squeeze
def test_flatten_0d_and_bad_order():
    assert leaf(2.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        ember.zeros(2, 3, 4).flatten(2, 1)


def test_unflatten():
    a = rand((2, 12), 13)
    check_op(lambda x: x.unflatten(1, (3, 4)), lambda x: x.reshape(2, 3, 4), a)
    check_op(lambda x: ember.unflatten(x, -1, (2, -1)), lambda x: x.reshape(2, 2, 6), a)
    with pytest.raises(ValueError, match="reshape: shape .* invalid"):
        leaf(a).unflatten(1, (5, 2))


def test_unsqueeze_out_of_range():
    with pytest.raises(IndexError, match=r"unsqueeze: dimension 3 is out of range .* \[-3, 2\]"):
        ember.zeros(2, 3).unsqueeze(3)


# ---------------------------------------------------------------------------- expand / repeat
def test_expand_as_and_non_contiguous():
    a = rand((1, 3), 17)
    other = ember.zeros(4, 3)
    check_op(lambda x: x.expand_as(other), lambda x: np.broadcast_to(x, (4, 3)), a)
    m = rand((3, 1, 2), 18)
    x = noncontig_leaf(m)
    assert_close(x.expand(3, 4, 2), np.broadcast_to(m, (3, 4, 2)))
    assert gradcheck(lambda t: t.expand(3, 4, 2), (x,))


@pytest.mark.parametrize("src,shape", [((3, 2), (3, 4)), ((2, 3), (3,))])
def test_expand_bad_shape_raises(src, shape):
    with pytest.raises(ValueError, match=r"expand: .*\(" + ", ".join(map(str, src))):
        ember.zeros(*src).expand(*shape)


def test_expand_minus_one_in_new_leading_dim_raises():
    # -1 means "keep the size", and a new leading dimension has no size to keep
    with pytest.raises(ValueError, match=r"expand: -1 is not allowed in a new leading "
                                         r"dimension .*\(-1, 3\) .*\(3,\)"):
        ember.zeros(3).expand(-1, 3)


def test_repeat_gradient_accumulates_copies():
    x = leaf([1.0, 2.0])
    (g,) = grad_of(lambda t: t.repeat(3, 2), x)
    np.testing.assert_array_equal(g, [6.0, 6.0])


def test_repeat_too_few_counts():
    with pytest.raises(ValueError, match="repeat: 1 repeat counts for a tensor with 2 dims"):
        ember.zeros(2, 3).repeat(2)
    with pytest.raises(ValueError, match=r"repeat: repeat counts must be non-negative ints, got "
                                         r"\(-1, 1\)"):
        ember.zeros(2, 3).repeat(-1, 1)
    assert ember.zeros(2, 3).repeat(0, 2).shape == (0, 6)


# ---------------------------------------------------------------------------- cat / stack
def test_cat_non_contiguous_and_dtype_promotion():
    a, b = rand((3, 2), 23), rand((3, 4), 24)
    x, y = noncontig_leaf(a), leaf(b)
    assert_close(ember.cat([x, y[:, ::2]], 1), np.concatenate([a, b[:, ::2]], 1))
    assert gradcheck(lambda s, t: ember.cat([s, t[:, ::2]], 1), (x, y))
    out = ember.cat([ember.tensor([1, 2]), ember.tensor([0.5])])
    assert out.dtype is ember.float32
    assert_close(out, [1.0, 2.0, 0.5])


def test_cat_mismatched_shapes_raises():
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\) but tensor 0 has "
                                         r"shape \(2, 3\); all sizes except dimension 0"):
        ember.cat([ember.zeros(2, 3), ember.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(3,\)"):
        ember.cat([ember.zeros(2, 3), ember.zeros(3)], 1)
    with pytest.raises(ValueError, match="cat: expected a non-empty"):
        ember.cat([])
    with pytest.raises(TypeError, match="cat: element 1 is a list"):
        ember.cat([ember.zeros(2), [1.0]])
    with pytest.raises(IndexError, match="cat: dimension 2 is out of range"):
        ember.cat([ember.zeros(2, 3), ember.zeros(2, 3)], 2)
    with pytest.raises(ValueError, match=r"cat: zero-dimensional tensor \(at position 1\)"):
        ember.cat([ember.zeros(1), ember.tensor(2.0)])


def test_stack_mismatched_shapes_raises():
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape \(3, 2\) but tensor 0 has "
                                         r"shape \(2, 3\)"):
        ember.stack([ember.zeros(2, 3), ember.zeros(3, 2)])


# ---------------------------------------------------------------------- split / chunk / unbind
def test_split_bad_sizes():
    with pytest.raises(ValueError, match=r"split: sizes \[2, 2\] add up to 4 but dimension 0 of "
                                         r"shape \(5, 4\) has size 5"):
        ember.zeros(5, 4).split([2, 2])
    with pytest.raises(ValueError, match="split: split_size must be positive, got 0"):
        ember.zeros(5).split(0)


@pytest.mark.parametrize("n,chunks", [(6, 3), (5, 2), (7, 3), (2, 4), (6, 1)])
def test_chunk(n, chunks):
    a = rand((n, 2), 41)
    x = leaf(a)
    parts = x.chunk(chunks, 0)
    # torch.chunk: pieces of ceil(n / chunks), possibly fewer than `chunks`
    size = -(-n // chunks)
    expected = [a[i:i + size] for i in range(0, n, size)]
    assert_close(parts, expected)
    assert gradcheck(lambda t: tuple(p * (i + 1) for i, p in enumerate(t.chunk(chunks))), (x,))
    with pytest.raises(ValueError, match="chunk: chunks must be positive"):
        x.chunk(0)


# ---------------------------------------------------------------------------- pad
def test_pad_bad_arguments():
    x = ember.zeros(2, 3)
    with pytest.raises(ValueError, match=r"pad: expected an even number .* \(2, 3\)"):
        ember.pad(x, (1,))
    with pytest.raises(ValueError, match="pad: expected an even number"):
        ember.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="pad: unknown mode 'mirror'"):
        ember.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) must be smaller than "
                                         r"the dimension's size 3"):
        ember.pad(x, (3, 0), mode="reflect")


# ---------------------------------------------------------------------------- clone / contiguous
def test_clone_is_a_differentiable_copy():
    a = rand((2, 3), 60)
    x = leaf(a)
    check_op(ember.clone, lambda v: v.copy(), a, gradgrad=True)
    c = x.clone()
    assert not np.shares_memory(np_of(c), np_of(x))
    with ember.no_grad():
        c[0, 0] = 100.0
    assert np_of(x)[0, 0] == a[0, 0]


def test_contiguous():
    a = rand((3, 4), 61)
    x = noncontig_leaf(a)
    c = x.contiguous()
    assert np_of(c).flags["C_CONTIGUOUS"]
    assert_close(c, a)
    assert gradcheck(lambda t: t.contiguous(), (x,))
    y = leaf(a)
    assert y.contiguous() is y  # already contiguous: no copy


# ---------------------------------------------------------------------------- casts
def test_float32_float64_casts_are_differentiable():
    a = rand((2, 3), 70)
    x = leaf(a)
    y = x.to(ember.float32)
    assert y.dtype is ember.float32 and y.requires_grad
    assert_close(y, a.astype(np.float32))
    (y * 2).sum().backward()
    assert x.grad.dtype is ember.float64
    np.testing.assert_array_equal(np_of(x.grad), np.full((2, 3), 2.0))
    # a round trip float64 -> float32 -> float64 has gradient 1; the float32 rounding
    # (~1e-7 relative) needs a larger finite-difference step than the default
    assert gradcheck(lambda t: t.float().double() * 3.0, (x,), eps=1e-2, atol=1e-4)
    x32 = ember.tensor(a.astype(np.float32), requires_grad=True)
    z = x32.double()
    assert z.dtype is ember.float64
    (z * z).sum().backward()
    assert x32.grad.dtype is ember.float32
    np.testing.assert_allclose(np_of(x32.grad), 2 * a.astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("target", [ember.int64, ember.bool_])
def test_cast_to_int_or_bool_leaves_the_graph(target):
    a = np.array([-1.7, 0.0, 2.5])
    y = leaf(a).to(target)
    assert y.dtype is target and not y.requires_grad
    np.testing.assert_array_equal(np_of(y), a.astype(target.np))


def test_cast_same_dtype_is_identity_and_methods():
    x = leaf([1.0])
    assert x.to(ember.float64) is x and x.double() is x
    assert ember.tensor([1, 2]).float().dtype is ember.float32
    assert ember.tensor([1.5]).long().dtype is ember.int64
    assert ember.tensor([0.0, 2.0]).bool().tolist() == [False, True]
    assert ember.tensor([1.0]).to("float64").dtype is ember.float64


def test_gradgradcheck_through_shape_chain():
    a = rand((2, 3, 2), 71)
    assert gradgradcheck(lambda x: (x.permute(2, 0, 1).reshape(2, 6) ** 2).flatten(), (leaf(a),))


