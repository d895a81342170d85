"""``ember.backends.cudnn``: ember's GPU kernels are its own, so cuDNN is never used.

``benchmark``, ``deterministic`` and ``enabled`` are kept so that scripts setting them run
unchanged; they select among cuDNN's algorithms in PyTorch and have nothing to select here.
"""

benchmark = False
deterministic = False
enabled = True


def is_available() -> bool:
    """False: ember does not use cuDNN."""
    return False


def version() -> None:
    """None: no cuDNN is loaded."""
    return None
