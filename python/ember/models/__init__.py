"""``ember.models``: reference models built on ``ember.nn``, in the layouts their published
checkpoints use, so those checkpoints load unchanged.

- GPT-2 (``GPT2Config``, ``GPT2Model``, ``GPT2LMHeadModel``) and BERT (``BertConfig``,
  ``BertModel``, ``BertForMaskedLM``, ``BertForSequenceClassification``) in the Hugging Face
  ``transformers`` layout: ``from_pretrained(folder)`` reads ``config.json`` +
  ``model.safetensors``, ``save_pretrained(folder)`` writes them;
- ``generate()`` (greedy, temperature, top-k, top-p, repetition penalty, end tokens, left
  padding) with a key/value cache (``KVCache``).
- vision networks in torchvision's layout: ``resnet18/34/50``, ``vgg11/16(_bn)``,
  ``googlenet``, with ``get_model(name)`` / ``list_models()``.

See docs/models.md.
"""

from .bert import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
)
from .cache import KVCache
from .generation import GenerationMixin
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from .gpt2 import GPT2Config, GPT2LMHeadModel, GPT2Model
from .hub import PretrainedConfig, PreTrainedModel
from .registry import get_model, list_models
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn

__all__ = [
    "BertConfig", "BertForMaskedLM", "BertForSequenceClassification", "BertModel",
    "GPT2Config", "GPT2LMHeadModel", "GPT2Model", "GenerationMixin", "KVCache",
    "PreTrainedModel", "PretrainedConfig",
    # vision, torchvision's layout
    "BasicBlock", "Bottleneck", "GoogLeNet", "GoogLeNetOutputs", "ResNet", "get_model",
    "googlenet", "list_models",
    "resnet18", "resnet34", "resnet50", "VGG", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn",
]
