"""Image transforms in torchvision's style, on ember tensors or NumPy arrays.

Images are CHW (channels first) once ``ToTensor`` has run; ``ToTensor`` itself takes the
HWC/HW uint8 arrays that image files (and ``MNIST.data``) hold. The random transforms
draw from ember's default generator, so ``ember.manual_seed`` makes them reproducible.
A transform returns the same kind it gets (tensor in, tensor out; array in, array out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..creation import tensor
from ..ops import pad
from ..random import default_generator
from ..tensor import Tensor

__all__ = ["Compose", "Lambda", "Normalize", "RandomCrop", "RandomHorizontalFlip", "ToTensor"]

Image = Any  # an ember Tensor or a numpy array (CHW after ToTensor)


def _spatial(img: Image, name: str) -> tuple[int, int]:
    if img.ndim < 2:
        raise ValueError(f"{name}: expected an image of shape (C, H, W) or (H, W), got "
                         f"shape {tuple(img.shape)}")
    return int(img.shape[-2]), int(img.shape[-1])


class Compose:
    """Apply transforms one after another: ``Compose([ToTensor(), Normalize(m, s)])``."""
    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda:
    """Wrap a function as a transform."""
    def __init__(self, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, img: Any) -> Any:
        return self.fn(img)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.fn, '__name__', self.fn)!r})"


class ToTensor:
    """An HWC (or HW) image array -> a CHW ember tensor; uint8 pixels are scaled to
    float32 in [0, 1], other dtypes keep their values (as torchvision's ``ToTensor``).
    Accepts PIL images too (via ``np.asarray``); a tensor passes through unchanged."""

    def __call__(self, pic: Any) -> Tensor:
        if isinstance(pic, Tensor):
            return pic
        arr = np.asarray(pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C), got "
                             f"shape {arr.shape}")
        chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return tensor(chw.astype(np.float32) / np.float32(255.0))
        return tensor(chw)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(img - mean[c]) / std[c]`` for each channel c of a CHW image (or a batch NCHW)."""
    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError("Normalize: mean and std must be numbers or 1-D sequences")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std has a zero ({self.std.tolist()}); that would "
                             "divide by zero")

    def __call__(self, img: Image) -> Image:
        if img.ndim < 3:
            raise ValueError(f"Normalize: expected a (C, H, W) image, got shape "
                             f"{tuple(img.shape)} (use ToTensor first)")
        c = img.shape[-3]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if len(v) not in (1, c):
                raise ValueError(f"Normalize: {name} has {len(v)} values but the image has "
                                 f"{c} channels")
        if isinstance(img, Tensor):
            return self._tensor(img)
        dt = img.dtype if img.dtype.kind == "f" else np.float32
        mean, std = (v.astype(dt).reshape(-1, 1, 1) for v in (self.mean, self.std))
        return (img.astype(dt) - mean) / std

    def _tensor(self, img: Tensor) -> Tensor:
        dt = img.dtype if img.is_floating_point() else None
        mean = tensor(self.mean.reshape(-1, 1, 1), dtype=dt, device=img.device)
        std = tensor(self.std.reshape(-1, 1, 1), dtype=dt, device=img.device)
        if not img.is_floating_point():
            img = img.float()
        return (img - mean.to(img.dtype)) / std.to(img.dtype)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _hflip(img: Image) -> Image:
    if isinstance(img, Tensor):
        w = img.shape[-1]
        return img[..., np.arange(w - 1, -1, -1)]
    return np.ascontiguousarray(img[..., ::-1])


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``."""
    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, img: Image) -> Image:
        _spatial(img, "RandomHorizontalFlip")
        if default_generator.np.random() < self.p:
            return _hflip(img)
        return img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def _pad_widths(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """torchvision's padding spec -> (left, top, right, bottom)."""
    if isinstance(padding, int):
        return (padding,) * 4
    p = [int(v) for v in padding]
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    if len(p) == 4:
        return p[0], p[1], p[2], p[3]
    raise ValueError(f"RandomCrop: padding must be an int or a sequence of 2 or 4 ints, got "
                     f"{padding!r}")


_PAD_MODES = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}


def _pad(img: Image, ltrb: tuple[int, int, int, int], fill: float, mode: str) -> Image:
    left, top, right, bottom = ltrb
    if isinstance(img, Tensor):
        return pad(img, (left, right, top, bottom), mode=_PAD_MODES[mode], value=fill)
    widths = [(0, 0)] * (img.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        return np.pad(img, widths, mode="constant", constant_values=fill)
    return np.pad(img, widths, mode=mode)


class RandomCrop:
    """Crop a random ``size`` window (int or (h, w)) from the image.

    ``padding`` (int, (left/right, top/bottom) or (left, top, right, bottom)) is added
    first, filled with ``fill`` (or copied from the border: ``padding_mode`` 'edge' or
    'reflect'); ``pad_if_needed`` pads images smaller than ``size`` instead of failing.
    """

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill: float = 0,
                 padding_mode: str = "constant") -> None:
        self.size = (int(size), int(size)) if isinstance(size, int) else tuple(map(int, size))
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"RandomCrop: size must be a positive int or (h, w), got {size!r}")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {sorted(_PAD_MODES)}, "
                             f"got {padding_mode!r}")
        self.padding = None if padding is None else _pad_widths(padding)
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def __call__(self, img: Image) -> Image:
        _spatial(img, "RandomCrop")
        if self.padding is not None:
            img = _pad(img, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = _spatial(img, "RandomCrop")
        if self.pad_if_needed and (h < th or w < tw):
            # like torchvision: the deficit is added on *both* sides
            dw, dh = max(tw - w, 0), max(th - h, 0)
            img = _pad(img, (dw, dh, dw, dh), self.fill, self.padding_mode)
            h, w = _spatial(img, "RandomCrop")
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: crop size {(th, tw)} is larger than the (padded) "
                             f"image size {(h, w)}; use padding or pad_if_needed=True")
        i = int(default_generator.np.integers(0, h - th + 1))
        j = int(default_generator.np.integers(0, w - tw + 1))
        return img[..., i:i + th, j:j + tw]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"
