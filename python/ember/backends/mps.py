"""``ember.backends.mps``: Apple's Metal GPUs. ember has no backend for them."""


def is_available() -> bool:
    """Always False: ember runs on the CPU and on CUDA GPUs."""
    return False


def is_built() -> bool:
    """Always False: ember has no MPS backend."""
    return False
