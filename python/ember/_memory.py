"""Why importing ember tunes glibc's malloc, and how to opt out.

A training step allocates the same large arrays every time -- activations, their
gradients, temporaries of a few hundred KiB to tens of MiB -- and frees them all by the
next step. With glibc's defaults, many of those blocks are served by a fresh ``mmap`` and
handed back to the kernel on ``free`` (or trimmed off the top of the heap), so every
step pays a page fault, and the kernel's zeroing, for each 4 KiB page it touches again.
Measured on the training benchmark (2-core machine): 2,500 faults and 5 ms of kernel time
in an 11.5 ms step of the MNIST CNN, 10,000 faults and 19 ms in a 52 ms step of the
GPT-style Transformer. With the two settings below there are none, and those steps take
4.6 ms and 27 ms.

- ``M_MMAP_THRESHOLD`` = 32 MiB (glibc's largest): blocks up to that size come from the
  heap, where a freed block is reused by the next step instead of unmapped;
- ``M_TRIM_THRESHOLD`` = 256 MiB: up to that much free memory at the top of the heap is
  kept rather than returned to the OS after each step.

The cost is memory that stays with the process once it has been used (the resident size
stays at its peak), which is what every framework's caching allocator does on purpose.
These are process-wide settings, so other libraries in the process (NumPy, PyTorch) get
them too. Set ``EMBER_MALLOC_TUNING=0`` before importing ember to keep the C library's
defaults. On anything but Linux with glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import platform

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20

tuned = False  # whether the settings were applied in this process


def tune_malloc() -> bool:
    """Apply the settings above (once); returns whether they are in effect."""
    global tuned
    if tuned or os.environ.get("EMBER_MALLOC_TUNING", "1") == "0":
        return tuned
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned
