"""ember.profiler: per-op calls, self times and FLOPs."""

import ember


def test_profiler_counts_ops_and_matmul_flops():
    a = ember.randn(8, 16, requires_grad=True)
    b = ember.randn(16, 4)
    with ember.profiler.profile() as prof:
        for _ in range(3):
            (a @ b).relu().sum().backward()
    stats = prof.stats
    assert stats["MatMul"].calls == 3 + 3  # forward, and dA = g @ b^T in each backward
    assert stats["MatMul"].flops == 3 * 2 * 8 * 4 * 16 + 3 * 2 * 8 * 16 * 4
    assert stats["MatMulBackward"].calls == 3 and stats["Relu"].calls == 3
    assert all(s.seconds >= 0 for s in stats.values())
    text = prof.table()
    assert "MatMul" in text and "GFLOP/s" in text and "(all ops)" in text


def test_profiler_is_off_outside_the_block():
    with ember.profiler.profile() as prof:
        pass
    ember.ones(2) + 1
    assert not prof.stats and not ember.profiler.is_active()
