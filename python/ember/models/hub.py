"""Checkpoints in the Hugging Face ``transformers`` layout: a folder holding ``config.json``
(the model's hyper-parameters) and ``model.safetensors`` (its weights by dotted name).

``PretrainedConfig`` reads and writes the JSON; ``PreTrainedModel`` gives a model
``from_pretrained(folder)`` / ``save_pretrained(folder)``. ember reads the safetensors
container itself (``ember._safetensors``), so no ``transformers``, ``torch`` or
``safetensors`` package is needed at run time.

Keys are matched as ``transformers`` matches them: a checkpoint of the base model
(``wte.weight``) loads into the model with a head (``transformer.wte.weight``) and the other
way round; tied weights (GPT-2's ``lm_head.weight``, BERT's decoder) may be absent from the
file; the few buffers old checkpoints carry (GPT-2's ``attn.bias`` causal mask) are skipped.
Anything else that does not fit -- a missing or unexpected key, a shape that differs -- is
an error naming the keys (``strict=False`` loads what fits and warns, naming the rest).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .. import dtypes as _dt
from .._safetensors import read_safetensors, write_safetensors
from ..autograd.grad_mode import no_grad
from ..creation import from_numpy
from ..nn import functional as F
from ..nn import init
from ..nn.layers.embedding import Embedding
from ..nn.layers.linear import Linear
from ..nn.layers.norm import LayerNorm
from ..nn.module import Module
from ..tensor import Tensor

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

PathLike = str | os.PathLike

# The activations config.json names (transformers' ACT2FN): "gelu" is the exact erf form,
# "gelu_new" / "gelu_pytorch_tanh" the tanh approximation GPT-2 was trained with.
def gelu_tanh(x: Tensor) -> Tensor:
    """GELU's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return F.gelu(x, approximate="tanh")


# (module-level functions, not lambdas, so that a whole model pickles: ember.save(model))
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu": F.gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": F.tanh,
}


def activation(name: str, where: str) -> Callable[[Tensor], Tensor]:
    """The activation function ``name`` (a config's ``activation_function`` / ``hidden_act``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"{where}: unknown activation {name!r}; known: "
                         f"{', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]


class PretrainedConfig:
    """A model's hyper-parameters, read from and written to ``config.json``.

    Subclasses list their fields with defaults in ``defaults`` (transformers' names and
    defaults). Keys of the file that the model does not use (``architectures``,
    ``transformers_version``, ...) are kept in ``extra`` and written back unchanged.
    """

    model_type: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # other names transformers accepts for a field (GPT-2's hidden_size -> n_embd)
    attribute_map: ClassVar[dict[str, str]] = {}

    def __init__(self, **kwargs: Any) -> None:
        values = dict(self.defaults)
        self.extra: dict[str, Any] = {}
        for key, value in kwargs.items():
            key = self.attribute_map.get(key, key)
            if key in values:
                values[key] = value
            else:
                self.extra[key] = value
        for key, value in values.items():
            object.__setattr__(self, key, value)
        self.validate()

    def __getattr__(self, name: str) -> Any:  # only called for names not set: the aliases
        alias = type(self).attribute_map.get(name)
        if alias is None:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        return getattr(self, alias)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, type(self).attribute_map.get(name, name), value)

    def validate(self) -> None:
        """Raise ValueError for hyper-parameters that cannot make a model (subclasses)."""

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.extra)
        out.update({k: getattr(self, k) for k in self.defaults})
        out["model_type"] = self.model_type
        return dict(sorted(out.items()))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.defaults)
        return f"{type(self).__name__}({fields})"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PretrainedConfig:
        d = dict(d)
        model_type = d.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ValueError(f"{cls.__name__}: the config is for a {model_type!r} model, not "
                             f"{cls.model_type!r}")
        return cls(**d)

    @classmethod
    def from_pretrained(cls, folder: PathLike) -> PretrainedConfig:
        """Read ``folder/config.json`` (or the JSON file ``folder`` itself)."""
        path = os.path.join(folder, CONFIG_NAME) if os.path.isdir(folder) else os.fspath(folder)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{cls.__name__}.from_pretrained: no {CONFIG_NAME} in "
                                    f"{os.fspath(folder)!r}")
        with open(path, encoding="utf-8") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{cls.__name__}.from_pretrained: {path!r} is not JSON ({e})"
                                 ) from e
        if not isinstance(d, dict):
            raise ValueError(f"{cls.__name__}.from_pretrained: {path!r} holds a "
                             f"{type(d).__name__}, not a JSON object")
        return cls.from_dict(d)

    def save_pretrained(self, folder: PathLike) -> None:
        """Write ``folder/config.json`` (creating the folder)."""
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, CONFIG_NAME), "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
            f.write("\n")


class PreTrainedModel(Module):
    """A model with a config, transformers' weight initialisation and checkpoint folders.

    Subclasses set ``config_class``, ``base_model_prefix`` (the attribute holding the base
    model in a model with a head: ``"transformer"`` for GPT-2, ``"bert"`` for BERT),
    ``tied_weights`` (keys that share another key's tensor, so a file may omit them) and
    ``ignored_keys`` (regexes of checkpoint keys that are not weights, skipped on load).
    """

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    tied_weights: ClassVar[dict[str, str]] = {}
    ignored_keys: ClassVar[tuple[str, ...]] = ()
    linear_types: ClassVar[tuple[type[Module], ...]] = (Linear,)  # initialised as Linear

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__}: expected a {self.config_class.__name__}, "
                            f"got {type(config).__name__}")
        self.config = config

    # ---------------------------------------------------------------- initialisation
    def init_weights(self) -> None:
        """transformers' initialisation: Linear/Conv1D/Embedding weights ~ N(0, std) with
        std = ``config.initializer_range``, biases 0, LayerNorm 1 and 0 (then ``_init_extra``
        for what a model does differently, e.g. GPT-2's scaled residual projections)."""
        std = self.config.initializer_range
        with no_grad():
            for m in self.modules():
                if isinstance(m, Embedding):
                    init.normal_(m.weight, 0.0, std)
                    if m.padding_idx is not None:
                        m.weight[m.padding_idx] = 0.0
                elif isinstance(m, LayerNorm):
                    init.ones_(m.weight)
                    init.zeros_(m.bias)
                elif isinstance(m, self.linear_types):
                    init.normal_(m.weight, 0.0, std)
                    if m.bias is not None:
                        init.zeros_(m.bias)
            self._init_extra()

    def tied_keys(self) -> set[str]:
        """The state-dict keys that share another key's tensor in this model (when
        ``config.tie_word_embeddings``), which a checkpoint may omit."""
        return set(self.tied_weights) if getattr(self.config, "tie_word_embeddings", True) \
            else set()

    def _init_extra(self) -> None:
        """Initialisation beyond ``init_weights``' rules (subclasses)."""

    # ---------------------------------------------------------------- checkpoints
    @classmethod
    def from_pretrained(cls, folder: PathLike, *, dtype: Any = None, strict: bool = True,
                        **config_overrides: Any) -> PreTrainedModel:
        """A model built from ``folder/config.json`` holding ``folder/model.safetensors``.

        Args:
            folder: a transformers-style folder (what ``save_pretrained`` writes, ours or
                theirs).
            dtype: the model's floating dtype (default: ember's default dtype); weights
                stored as float16/bfloat16 are widened exactly.
            strict: True: every weight of the model must be in the file and every tensor of
                the file must be a weight of the model (tied weights and ``ignored_keys``
                aside), else RuntimeError naming the keys. False: load what fits, keep the
                fresh initialisation for the rest, and warn naming both lists (loading a
                pretrained body under a new head).
            **config_overrides: fields of the config to replace (``num_labels=3``,
                ``attn_pdrop=0.0``).

        Raises:
            FileNotFoundError: the folder lacks ``config.json`` or ``model.safetensors``.
            RuntimeError: keys that do not fit (see ``strict``) or a shape mismatch (always).
        """
        config = cls.config_class.from_pretrained(folder)
        for key, value in config_overrides.items():
            if key not in config.defaults and key not in config.attribute_map and \
                    not isinstance(getattr(type(config), key, None), property):
                raise TypeError(f"{cls.__name__}.from_pretrained: {key!r} is not a field of "
                                f"{type(config).__name__} (its fields: "
                                f"{', '.join(config.defaults)})")
            setattr(config, key, value)
        config.validate()
        model = cls(config)
        if dtype is not None:
            model.to(_dt.as_dtype(dtype))
        path = os.path.join(folder, WEIGHTS_NAME)
        if not os.path.isfile(path):
            present = set(os.listdir(folder))
            hint = (" (it holds a sharded checkpoint, model.safetensors.index.json, which "
                    "ember does not read)" if f"{WEIGHTS_NAME}.index.json" in present else
                    " (it holds pytorch_model.bin, a torch.save pickle: convert it to "
                    "safetensors)" if "pytorch_model.bin" in present else "")
            raise FileNotFoundError(f"{cls.__name__}.from_pretrained: no {WEIGHTS_NAME} in "
                                    f"{os.fspath(folder)!r}{hint}")
        with open(path, "rb") as f:
            _, _, arrays = read_safetensors(f, repr(path), os.fstat(f.fileno()).st_size)
        model.load_pretrained_state(arrays, strict=strict, source=path)
        model.eval()  # as transformers: a loaded model starts in evaluation mode
        return model

    def load_pretrained_state(self, arrays: dict[str, Any], strict: bool = True,
                              source: str = "the checkpoint") -> None:
        """Copy a checkpoint's tensors (name -> array/Tensor) into this model, matching keys
        as ``from_pretrained`` documents."""
        own = self.state_dict(keep_vars=True)
        state = self._rename_keys(dict(arrays), own)
        ignored = [re.compile(p) for p in self.ignored_keys]
        unexpected = [k for k in state if k not in own and not any(p.search(k) for p in ignored)]
        tied = self.tied_keys()
        missing = [k for k in own if k not in state and k not in tied]
        problems = []
        for k, v in state.items():
            if k in own and tuple(v.shape) != tuple(own[k].shape):
                problems.append(f"{k}: shape {tuple(v.shape)} in the file, "
                                f"{tuple(own[k].shape)} in the model")
        if problems:
            raise RuntimeError(f"{type(self).__name__}.from_pretrained: {source}: shape "
                               "mismatch (is config.json the one saved with these weights?): "
                               + "; ".join(problems))
        if (missing or unexpected) and strict:
            raise RuntimeError(
                f"{type(self).__name__}.from_pretrained: {source} does not fit the model: "
                f"missing keys {missing or 'none'}; unexpected keys {unexpected or 'none'} "
                "(strict=False loads what fits and keeps the fresh initialisation for the "
                "missing ones)")
        if missing or unexpected:
            warnings.warn(f"{type(self).__name__}.from_pretrained: {source}: not in the file "
                          f"(left at their initialisation): {missing or 'none'}; in the file "
                          f"but not used: {unexpected or 'none'}", stacklevel=3)
        with no_grad():
            for k, v in state.items():
                if k in own:
                    # float16 (or any stored dtype) converted to the parameter's dtype in
                    # NumPy: ember has no float16, and float16 -> float32/64 is exact
                    src = v if isinstance(v, Tensor) else from_numpy(
                        np.ascontiguousarray(v, dtype=own[k].dtype.np))
                    own[k].copy_(src.to(own[k].device).to(own[k].dtype))

    def _rename_keys(self, state: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
        """Match a base-model checkpoint to a model with a head and the other way round, and
        old checkpoints' LayerNorm names (``gamma``/``beta``) to today's."""
        state = {re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight",
                        re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", k)): v
                 for k, v in state.items()}
        prefix = self.base_model_prefix + "." if self.base_model_prefix else ""
        if not prefix:
            return state
        wants_prefix = any(k.startswith(prefix) for k in own)
        has_prefix = any(k.startswith(prefix) for k in state)
        if wants_prefix and not has_prefix:  # base checkpoint -> model with a head
            return {(k if k in own else prefix + k): v for k, v in state.items()}
        if has_prefix and not wants_prefix:  # checkpoint with a head -> base model: drop it
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        return state

    def save_pretrained(self, folder: PathLike) -> None:
        """Write ``folder/config.json`` and ``folder/model.safetensors`` (tied weights once,
        as transformers writes them, so transformers' ``from_pretrained`` reads the folder)."""
        os.makedirs(folder, exist_ok=True)
        self.config.save_pretrained(folder)
        tied = self.tied_keys()
        arrays = {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()
                  if k not in tied}
        path = os.path.join(folder, WEIGHTS_NAME)
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                write_safetensors(f, arrays, {"format": "pt"})
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
