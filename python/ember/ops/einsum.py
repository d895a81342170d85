"""``einsum``: Einstein summation, lowered to the differentiable ops ember already has.

An equation names each operand's dimensions with letters (``"bij,bjk->bik"``). einsum
1. parses it and gives every dimension a label (a letter, or one of the dimensions that
   ``...`` stands for, aligned from the right as broadcasting aligns them);
2. per operand, takes the diagonal of a letter it repeats (``ii->i``), drops a size-1
   dimension whose letter is longer elsewhere (size-1 broadcasting: the entry does not
   depend on that index), and sums away a letter no one else needs;
3. contracts the operands two at a time (greedily, the pair with the smallest result first,
   leftmost on ties): the letters both share and still need are batch dimensions, the
   letters both share and no one needs afterwards are summed by ONE batched matmul
   ``(B, M, K) @ (B, K, N)`` -- so ``bhqd,bhkd->bhqk`` runs on the GEMM kernel, never as
   a broadcast product summed afterwards; without a shared summed letter it is a
   broadcast product;
4. sums what is left over and permutes into the output's order.
Every step is permute / reshape / squeeze / diagonal / sum / mul / matmul, so gradients (and
gradients of gradients) come from the graph.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tensor import Tensor
from .composite import diagonal
from .elementwise import mul
from .linalg import matmul
from .reduce import sum
from .shape import permute, reshape, squeeze

_ELLIPSIS = "."  # ellipsis dimension k is labelled ".k" (k counted from the left of the
# widest ellipsis), which sorts before every letter as the implicit output wants


def _is_letter(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z")


def _parse_term(equation: str, term: str, where: str) -> list[str]:
    """A term's labels in order, with ``"..."`` as one entry."""
    out, i = [], 0
    while i < len(term):
        c = term[i]
        if term.startswith("...", i):
            if "..." in out:
                raise ValueError(f"einsum: {where} in '{equation}' has more than one ellipsis")
            out.append("...")
            i += 3
            continue
        if not _is_letter(c):
            raise ValueError(f"einsum: invalid subscript {c!r} in {where} of '{equation}': "
                             "subscripts must be letters in [a-zA-Z] (or one '...')")
        out.append(c)
        i += 1
    return out


def _labels_of(equation: str, term: list[str], x: Tensor, k: int, n_ell: int) -> list[str]:
    """Operand ``k``'s dimensions as labels, its ``...`` expanded right-aligned to ``n_ell``."""
    letters = len(term) - ("..." in term)
    if "..." not in term and letters != x.ndim or letters > x.ndim:
        raise ValueError(
            f"einsum: operand {k} has {x.ndim} dimensions (shape {tuple(x.shape)}) but its "
            f"subscripts {''.join(term)!r} in '{equation}' name {letters}"
            + ("" if "..." in term else " and there is no '...' for the rest"))
    if "..." not in term:
        return list(term)
    i, mine = term.index("..."), x.ndim - letters
    ell = [f"{_ELLIPSIS}{j}" for j in range(n_ell - mine, n_ell)]
    return term[:i] + ell + term[i + 1:]


def _parse(equation: str, operands: Sequence[Tensor]):
    """Per operand its labels; the output's labels; each label's size."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a str, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = [_parse_term(equation, t, f"operand {k}'s subscripts")
             for k, t in enumerate(lhs.split(","))]
    if len(terms) != len(operands):
        raise ValueError(f"einsum: the equation '{equation}' has subscripts for {len(terms)} "
                         f"operand(s) but {len(operands)} were given")
    for k, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum: operand {k} must be a Tensor, got {type(x).__name__}")
    n_ell = max([x.ndim - len(t) + 1 for t, x in zip(terms, operands) if "..." in t],
                default=0)
    labels = [_labels_of(equation, t, x, k, n_ell)
              for k, (t, x) in enumerate(zip(terms, operands))]
    ell = [f"{_ELLIPSIS}{j}" for j in range(n_ell)]
    if arrow:
        out = _parse_term(equation, rhs, "the output")
        seen = set()
        for c in out:
            if c in seen:
                raise ValueError(f"einsum: output subscript {c!r} appears more than once in "
                                 f"'{equation}'")
            seen.add(c)
            if c != "..." and not any(c in t for t in terms):
                raise ValueError(f"einsum: output subscript {c!r} in '{equation}' does not "
                                 "appear in the subscripts of any operand")
        if "..." in out:
            i = out.index("...")
            out = out[:i] + ell + out[i + 1:]
        # without '...' in the output, the dimensions it stands for are summed (as torch)
    else:  # implicit: the ellipsis dims, then the letters used exactly once, sorted
        counts: dict[str, int] = {}
        for t in terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + sorted(c for c, n in counts.items() if n == 1 and c != "...")
    sizes: dict[str, int] = {}
    for k, (labs, x) in enumerate(zip(labels, operands)):
        mine: dict[str, int] = {}
        for lab, n in zip(labs, x.shape):
            if mine.setdefault(lab, n) != n:
                raise ValueError(f"einsum: subscript {lab!r} is repeated in operand {k} "
                                 f"(shape {tuple(x.shape)}) with different sizes "
                                 f"{mine[lab]} and {n}")
            old = sizes.get(lab, 1)
            if n != 1 and old != 1 and n != old:
                name = "..." if lab[0] == _ELLIPSIS else repr(lab)
                raise ValueError(f"einsum: subscript {name} has size {n} in operand {k} "
                                 f"(shape {tuple(x.shape)}) but {old} in an earlier operand; "
                                 "the sizes must match or be 1")
            sizes[lab] = n if old == 1 else old
    return labels, out, sizes


def _prepare(x: Tensor, labs: list[str], sizes: dict, needed) -> tuple[Tensor, list[str]]:
    """One operand with each label once: diagonals of repeated letters, broadcast size-1
    dimensions squeezed, and the labels that ``needed`` does not hold summed."""
    labs = list(labs)
    for lab in dict.fromkeys(labs):
        while labs.count(lab) > 1:  # the diagonal goes last: [..., i] = x[..., i, ..., i]
            d1 = labs.index(lab)
            d2 = labs.index(lab, d1 + 1)
            x = diagonal(x, 0, d1, d2)
            labs = [c for j, c in enumerate(labs) if j not in (d1, d2)] + [lab]
    ones = [d for d, lab in enumerate(labs) if x.shape[d] == 1 and sizes[lab] != 1]
    if ones:
        x = squeeze(x, ones)
        labs = [lab for d, lab in enumerate(labs) if d not in ones]
    return _sum_unneeded(x, labs, needed)


def _sum_unneeded(x: Tensor, labs: list[str], needed) -> tuple[Tensor, list[str]]:
    gone = [d for d, lab in enumerate(labs) if lab not in needed]
    if gone:
        x = sum(x, tuple(gone))
        labs = [lab for lab in labs if lab in needed]
    return x, labs


def _arrange(x: Tensor, labs: list[str], order: list[str]) -> Tensor:
    """``x`` permuted from ``labs`` to ``order`` (no node when it already is)."""
    perm = [labs.index(lab) for lab in order]
    return x if perm == list(range(len(perm))) else permute(x, perm)


def _size(sizes: dict, labs) -> int:
    n = 1
    for lab in labs:
        n *= sizes[lab]
    return n


def _matrix(x: Tensor, labs: list[str], batch, rows, cols, sizes: dict) -> Tensor:
    """``x`` as a (B, R, C) stack of matrices. When ``cols`` come first in ``x``'s memory
    order it is arranged (B, C, R) and transposed instead: a strided view the GEMM reads as
    it is, where the other order would be a copy (``bhkd`` as the right side of
    ``bhqd,bhkd->bhqk``)."""
    first = {lab: d for d, lab in enumerate(labs)}
    nb, nr, nc = _size(sizes, batch), _size(sizes, rows), _size(sizes, cols)
    if rows and cols and first[cols[0]] < first[rows[0]]:
        return reshape(_arrange(x, labs, batch + cols + rows), [nb, nc, nr]).mT
    return reshape(_arrange(x, labs, batch + rows + cols), [nb, nr, nc])


def _contract(a: Tensor, la: list[str], b: Tensor, lb: list[str], needed, sizes: dict):
    """The product of two prepared operands with every shared label not in ``needed``
    summed: one batched matmul (B, M, K) @ (B, K, N) when some label is summed."""
    batch = [lab for lab in la if lab in lb and lab in needed]
    summed = [lab for lab in la if lab in lb and lab not in needed]
    m = [lab for lab in la if lab not in lb]
    n = [lab for lab in lb if lab not in la]  # (a label of one operand only is needed:
    # _prepare summed the others)
    if not summed or not a.dtype.is_floating_point or not b.dtype.is_floating_point:
        # no summed letter (an outer or elementwise product), or integers (no GEMM for them):
        # a broadcast product over batch + m + n + summed, then the sum
        order = batch + m + n + summed
        a2 = reshape(_arrange(a, la, batch + m + summed),
                     [sizes[lab] if lab in la else 1 for lab in order])
        b2 = reshape(_arrange(b, lb, batch + n + summed),
                     [sizes[lab] if lab in lb else 1 for lab in order])
        out = mul(a2, b2)
        if summed:
            out = sum(out, tuple(range(len(order) - len(summed), len(order))))
        return out, batch + m + n
    shape_b = [sizes[lab] for lab in batch]
    out = matmul(_matrix(a, la, batch, m, summed, sizes),
                 _matrix(b, lb, batch, summed, n, sizes))
    return reshape(out, shape_b + [sizes[lab] for lab in m] + [sizes[lab] for lab in n]), \
        batch + m + n


def einsum(equation: str, *operands: Tensor) -> Tensor:
    """Einstein summation with ``torch.einsum``'s semantics.

    ``equation`` gives each operand's dimensions a letter, e.g. ``"bij,bjk->bik"``; letters
    left out of the output are summed. Without ``->`` the output is the letters used once,
    in alphabetical order (upper case first). ``...`` stands for any number of leading,
    broadcast dimensions; a letter repeated in one operand takes a diagonal (``"ii->i"``);
    a dimension of size 1 broadcasts against the same letter elsewhere. The operands come
    as arguments or as one list. Contractions run as batched matrix products.

    >>> einsum("bij,bjk->bik", a, b)      # == a @ b
    >>> einsum("ii", m)                   # the trace
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    labels, out, sizes = _parse(equation, operands)
    dtypes = {x.dtype for x in operands}
    if len(dtypes) > 1:  # as PyTorch (and matmul): no silent promotion
        raise TypeError(f"einsum: the operands must have one dtype, got "
                        f"{', '.join(str(x.dtype) for x in operands)}")
    # the labels each operand must keep: those of the output or of another operand
    items = []
    for k, (x, labs) in enumerate(zip(operands, labels)):
        others = {lab for j, ls in enumerate(labels) if j != k for lab in ls}
        items.append(_prepare(x, labs, sizes, others | set(out)))
    while len(items) > 1:
        best = None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                rest = {lab for k, (_, ls) in enumerate(items) if k not in (i, j) for lab in ls}
                needed = rest | set(out)
                kept = (set(items[i][1]) | set(items[j][1])) & needed
                cost = _size(sizes, kept)
                if best is None or cost < best[0]:
                    best = (cost, i, j, needed)
        _, i, j, needed = best
        (a, la), (b, lb) = items[i], items[j]
        items[i] = _contract(a, la, b, lb, needed, sizes)
        del items[j]
    x, labs = _sum_unneeded(*items[0], set(out))
    return _arrange(x, labs, out)


__all__ = ["einsum"]
