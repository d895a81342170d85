"""ResNet (He et al., 2015) in torchvision's layout, so its state dicts load unchanged.

Module and parameter names follow ``torchvision.models.resnet``: ``conv1 bn1 relu maxpool
layer1..layer4`` (each a ``Sequential`` of blocks, ``layerK.N.conv1/bn1/conv2/bn2`` and for
the bottleneck ``conv3/bn3``, the projection shortcut ``layerK.N.downsample.0`` (1x1 conv)
and ``.1`` (BatchNorm)), ``avgpool fc``. The stride sits on the 3x3 convolution of a
bottleneck (torchvision's "ResNet v1.5"), not on its first 1x1.

``small_input=True`` swaps the ImageNet stem (7x7 stride-2 conv, 3x3 stride-2 max pool,
a 4x reduction meant for 224x224) for a 3x3 stride-1 conv and no pooling, the usual stem
for 28x28 / 32x32 images (MNIST, CIFAR); ``conv1`` keeps its name, so only its weight's
shape differs from a torchvision checkpoint.
"""

from __future__ import annotations

from .. import nn
from ..nn import init
from ..tensor import Tensor


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    # padding 1 keeps the spatial size at stride 1; no bias, the BatchNorm after it has one
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut: ``relu(bn2(conv2(relu(bn1(conv1 x)))) + s(x))``,
    where ``s`` is the identity or ``downsample`` (1x1 conv + BatchNorm) when the shape
    changes. ResNet-18/34."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce to ``planes``), 3x3 (with the stride), 1x1 (expand to 4 * ``planes``),
    each followed by BatchNorm, plus the shortcut. ResNet-50 and deeper."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A ResNet: stem, four stages of ``layers[i]`` blocks (64, 128, 256, 512 planes; stages
    2-4 halve the resolution), global average pooling and a linear classifier.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]`` for ResNet-18.
        num_classes: outputs of ``fc``.
        in_channels: input channels (1 for MNIST).
        small_input: 3x3 stride-1 ``conv1`` and no max pool, for 28x28 / 32x32 images.
        zero_init_residual: start each block's last BatchNorm at zero weight, so each
            block begins as the identity (torchvision's option).
    """

    def __init__(self, block: type, layers: list[int], num_classes: int = 1000,
                 in_channels: int = 3, small_input: bool = False,
                 zero_init_residual: bool = False) -> None:
        super().__init__()
        if block not in (BasicBlock, Bottleneck):
            raise TypeError(f"ResNet: block must be BasicBlock or Bottleneck, got {block!r}")
        if len(layers) != 4 or any(not isinstance(n, int) or n < 1 for n in layers):
            raise ValueError(f"ResNet: layers must be 4 positive block counts, got {layers!r}")
        for name, v in (("num_classes", num_classes), ("in_channels", in_channels)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"ResNet: {name} must be a positive int, got {v!r}")
        self.inplanes = 64
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        # the small stem keeps full resolution: a 32x32 image would otherwise reach the last
        # stage at 1x1
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, block: type, planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            # the shortcut must match the block's output shape: project with a strided 1x1
            downsample = nn.Sequential(
                _conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        mods = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        mods += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # torchvision's: He-normal (fan_out) convolutions, BatchNorm at weight 1 bias 0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    init.zeros_(m.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.conv1.in_channels:
            raise ValueError(f"ResNet: expected input (N, {self.conv1.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.fc(x.flatten(1))


def resnet18(**kwargs) -> ResNet:
    """ResNet-18: ``BasicBlock``, [2, 2, 2, 2]; keyword arguments go to ``ResNet``."""
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs) -> ResNet:
    """ResNet-34: ``BasicBlock``, [3, 4, 6, 3]; keyword arguments go to ``ResNet``."""
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs) -> ResNet:
    """ResNet-50: ``Bottleneck``, [3, 4, 6, 3]; keyword arguments go to ``ResNet``."""
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)
