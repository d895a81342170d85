"""einsum beyond the op table (which checks the forward against NumPy, gradcheck,
gradgradcheck and PyTorch for many equations): that contractions run as one batched matmul,
the operand forms, integer operands, and the errors."""

import ember
import numpy as np
import pytest


def _node_names(t: ember.Tensor) -> list[str]:
    """The graph's node types from ``t`` back to the leaves (each node once)."""
    seen, names, stack = set(), [], [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(n for n, _ in getattr(node, "next_functions", ()))
    return names


@pytest.mark.parametrize("eq,sa,sb", [
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("bhqd,bhkd->bhqk", (2, 3, 4, 5), (2, 3, 6, 5)),
    ("bhqk,bhkd->bhqd", (2, 3, 4, 6), (2, 3, 6, 5)),
    ("ij,jk->ik", (3, 4), (4, 5)),
])
def test_contractions_are_one_matmul_without_copies_or_broadcast_products(eq, sa, sb):
    a = ember.randn(*sa, requires_grad=True)
    b = ember.randn(*sb, requires_grad=True)
    names = _node_names(ember.einsum(eq, a, b))
    assert names.count("MatMul") == 1, names
    # only views around the GEMM: no broadcast Mul, no Sum, no copy
    assert set(names) <= {"MatMul", "Reshape", "Permute", "AccumulateGrad"}, names
    np.testing.assert_allclose(ember.einsum(eq, a, b).detach().numpy(),
                               np.einsum(eq, a.detach().numpy(), b.detach().numpy()),
                               rtol=1e-5, atol=1e-5)


def test_operands_as_one_list_or_tuple():
    a, b = ember.randn(2, 3), ember.randn(3, 4)
    want = (a @ b).numpy()
    for form in ([a, b], (a, b)):
        np.testing.assert_allclose(ember.einsum("ij,jk->ik", form).numpy(), want, rtol=1e-6)


def test_integer_operands_use_products_and_sums():
    a = ember.tensor([[1, 2], [3, 4]])
    b = ember.tensor([[5, 6], [7, 8]])
    out = ember.einsum("ij,jk->ik", a, b)
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(out.numpy(), np.array([[19, 22], [43, 50]]))
    assert ember.einsum("ii", a).item() == 5


def test_mixed_dtypes_raise_as_in_pytorch():
    with pytest.raises(TypeError, match=r"einsum: the operands must have one dtype, got "
                                        r"ember.float32, ember.float64"):
        ember.einsum("i,i", ember.ones(3), ember.ones(3, dtype=ember.float64))


@pytest.mark.parametrize("eq,shapes,err,msg", [
    ("ij,jk->ik", [(2, 3), (4, 5)], ValueError,
     r"einsum: subscript 'j' has size 4 in operand 1 \(shape \(4, 5\)\) but 3"),
    ("ij->k", [(2, 3)], ValueError, r"einsum: output subscript 'k' in 'ij->k' does not appear"),
    ("ij->jj", [(2, 3)], ValueError, r"einsum: output subscript 'j' appears more than once"),
    ("ijk->ij", [(2, 3)], ValueError,
     r"einsum: operand 0 has 2 dimensions \(shape \(2, 3\)\) but its subscripts 'ijk'.* name 3"),
    ("ij", [(2, 3, 4)], ValueError, r"einsum: operand 0 has 3 dimensions"),
    ("ij,jk", [(2, 3)], ValueError, r"einsum: .*subscripts for 2 operand\(s\) but 1 were given"),
    ("i", [(2,), (2,)], ValueError, r"subscripts for 1 operand\(s\) but 2 were given"),
    ("i1->i", [(2, 3)], ValueError, r"einsum: invalid subscript '1'.*\[a-zA-Z\]"),
    ("ii->i", [(2, 3)], ValueError,
     r"einsum: subscript 'i' is repeated in operand 0 \(shape \(2, 3\)\) with different sizes"),
    ("...i...", [(2, 3)], ValueError, r"einsum: .*more than one ellipsis"),
    ("...ij,...ij", [(2, 3, 4), (5, 3, 4)], ValueError,
     r"einsum: subscript \.\.\. has size 5 in operand 1"),
])
def test_errors_name_the_op_the_subscript_and_the_sizes(eq, shapes, err, msg):
    with pytest.raises(err, match=msg):
        ember.einsum(eq, *[ember.zeros(*s) for s in shapes])


def test_non_tensor_operands_and_equations_are_type_errors():
    with pytest.raises(TypeError, match=r"einsum: operand 0 must be a Tensor, got ndarray"):
        ember.einsum("ij", np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"einsum: the equation must be a str, got int"):
        ember.einsum(3, ember.ones(2))
