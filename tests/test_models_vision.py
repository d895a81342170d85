"""ember.models vision networks against torchvision-layout references.

torchvision itself is not a test dependency (its wheels pair with one torch build, and its
compiled ops fail to load next to the CPU torch here), so the references are written below
with plain ``torch.nn`` in torchvision's exact module structure and parameter names
(torchvision/models/resnet.py, vgg.py). Random weights, BatchNorm with non-trivial running
statistics, the same numbers copied into ember through the state dict as NumPy arrays."""

import ember
import numpy as np
import pytest
from ember import models

torch = pytest.importorskip("torch")
tnn = torch.nn


# ---- torchvision-layout references (plain torch.nn) -------------------------------------

class _TBasic(tnn.Module):
    expansion = 1

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class _TBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class _TResNet(tnn.Module):
    def __init__(self, block, layers, num_classes=1000, in_channels=3, small_input=False):
        super().__init__()
        self.inplanes = 64
        if small_input:
            self.conv1 = tnn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
            self.maxpool = tnn.Identity()
        else:
            self.conv1 = tnn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.layer1 = self._make(block, 64, layers[0])
        self.layer2 = self._make(block, 128, layers[1], 2)
        self.layer3 = self._make(block, 256, layers[2], 2)
        self.layer4 = self._make(block, 512, layers[3], 2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)

    def _make(self, block, planes, blocks, stride=1):
        ds = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            ds = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride,
                                           bias=False),
                                tnn.BatchNorm2d(planes * block.expansion))
        mods = [block(self.inplanes, planes, stride, ds)]
        self.inplanes = planes * block.expansion
        mods += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return tnn.Sequential(*mods)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomise_bn(tmodel, seed=0):
    """Non-trivial BatchNorm affine parameters and running statistics, so eval mode tests
    the normalisation and not an identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, tnn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.num_batches_tracked.fill_(7)


def _to_ember_state(tmodel):
    return {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}


def _check_layout(emodel, tmodel):
    es, ts = emodel.state_dict(), tmodel.state_dict()
    assert list(es) == list(ts)  # names and order, as torchvision's state_dict
    for k in ts:
        assert tuple(es[k].shape) == tuple(ts[k].shape), k


def _assert_close(e, t, rtol=1e-4):
    e, t = e.detach().numpy(), t.detach().numpy()
    scale = np.abs(t).max()
    np.testing.assert_allclose(e, t, rtol=rtol, atol=rtol * scale)


# ---- ResNet ------------------------------------------------------------------------------

_RESNET_SPECS = {"resnet18": (_TBasic, [2, 2, 2, 2]), "resnet34": (_TBasic, [3, 4, 6, 3]),
                 "resnet50": (_TBottleneck, [3, 4, 6, 3])}


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_resnet_state_dict_layout(name):
    block, layers = _RESNET_SPECS[name]
    _check_layout(models.get_model(name), _TResNet(block, layers))


def _pair(small_input=False, **kw):
    torch.manual_seed(0)
    t = _TResNet(_TBasic, [2, 2, 2, 2], small_input=small_input, **kw)
    _randomise_bn(t)
    e = models.resnet18(small_input=small_input, **kw)
    e.load_state_dict(_to_ember_state(t))
    return e, t


def test_resnet18_eval_logits_match_reference():
    e, t = _pair(num_classes=10)
    e.eval()
    t.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x))
    _assert_close(e(ember.tensor(x)), ref)


def test_resnet18_small_input_mnist_stem_matches_reference():
    e, t = _pair(small_input=True, in_channels=1, num_classes=10)
    assert tuple(e.conv1.weight.shape) == (64, 1, 3, 3)
    e.eval()
    t.eval()
    x = np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x))
    _assert_close(e(ember.tensor(x)), ref)


def test_resnet18_train_step_matches_reference():
    """Train mode: BatchNorm uses the batch's statistics and updates the running ones; the
    loss, the gradients and one SGD step agree."""
    e, t = _pair(small_input=True, num_classes=5)
    e.train()
    t.train()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    y = np.array([0, 3, 1, 4])
    t_loss = tnn.functional.cross_entropy(t(torch.from_numpy(x)), torch.from_numpy(y))
    t_loss.backward()
    e_loss = ember.nn.functional.cross_entropy(e(ember.tensor(x)), ember.tensor(y))
    e_loss.backward()
    np.testing.assert_allclose(float(e_loss.item()), float(t_loss.item()), rtol=1e-4)
    eparams = dict(e.named_parameters())
    for k, p in t.named_parameters():
        _assert_close(eparams[k].grad, p.grad, rtol=1e-3)
    estate = e.state_dict()
    for k, v in t.state_dict().items():
        if "running" in k:
            _assert_close(estate[k], v)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet34", "resnet50"])
def test_deeper_resnets_eval_logits_match_reference(name):
    torch.manual_seed(7)
    t = _TResNet(*_RESNET_SPECS[name], num_classes=10)
    _randomise_bn(t)
    e = models.get_model(name, num_classes=10)
    e.load_state_dict(_to_ember_state(t))
    e.eval()
    t.eval()
    x = np.random.default_rng(7).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x))
    _assert_close(e(ember.tensor(x)), ref)


def test_resnet_loads_torch_safetensors_unchanged(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(3)
    t = _TResNet(_TBasic, [2, 2, 2, 2], num_classes=7, small_input=True)
    _randomise_bn(t)
    path = tmp_path / "resnet18.safetensors"
    safetensors_torch.save_file(t.state_dict(), str(path))
    e = models.resnet18(num_classes=7, small_input=True)
    e.load(path)
    e.eval()
    t.eval()
    x = np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x))
    _assert_close(e(ember.tensor(x)), ref)
    e2 = models.resnet18(num_classes=7, small_input=True)
    e2.load_state_dict(ember.load(path))
    _assert_close(e2.eval()(ember.tensor(x)), ref)


def test_resnet_checkpoint_that_does_not_fit_names_the_keys():
    state = _to_ember_state(_TResNet(_TBasic, [2, 2, 2, 2], num_classes=10))
    with pytest.raises(RuntimeError, match=r"fc\.weight.*\(10, 512\)"):
        models.resnet18(num_classes=5).load_state_dict(state)
    state["layer9.weight"] = state.pop("layer4.1.bn2.bias")
    with pytest.raises(RuntimeError, match=r"layer9\.weight(.|\n)*layer4\.1\.bn2\.bias"):
        models.resnet18(num_classes=10).load_state_dict(state)


def test_resnet_bad_arguments_and_input():
    with pytest.raises(ValueError, match="ResNet: expected input .N, 1, H, W."):
        models.resnet18(in_channels=1, small_input=True)(ember.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="num_classes"):
        models.resnet18(num_classes=0)


def test_get_model_registry():
    assert {"googlenet", "resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg16",
            "vgg16_bn"} <= set(models.list_models())
    m = models.get_model("resnet18", num_classes=3, small_input=True)
    assert tuple(m.fc.weight.shape) == (3, 512)
    with pytest.raises(ValueError, match="unknown model 'resnet19'.*resnet18, resnet34"):
        models.get_model("resnet19")


# ---- VGG ---------------------------------------------------------------------------------

_VGG_CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}


class _TVGG(tnn.Module):
    """torchvision.models.vgg.VGG with make_layers, in plain torch.nn."""

    def __init__(self, cfg, batch_norm=False, num_classes=1000):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
                continue
            layers.append(tnn.Conv2d(c, v, 3, padding=1))
            if batch_norm:
                layers.append(tnn.BatchNorm2d(v))
            layers.append(tnn.ReLU(inplace=True))
            c = v
        self.features = tnn.Sequential(*layers)
        self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = tnn.Sequential(
            tnn.Linear(512 * 7 * 7, 4096), tnn.ReLU(True), tnn.Dropout(0.5),
            tnn.Linear(4096, 4096), tnn.ReLU(True), tnn.Dropout(0.5),
            tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _check_vgg(name, size):
    """Layout (names, order, shapes) and eval-mode logits against the reference."""
    torch.manual_seed(4)
    t = _TVGG(_VGG_CFGS[name.removesuffix("_bn")], name.endswith("_bn"), num_classes=10)
    _randomise_bn(t)
    e = models.get_model(name, num_classes=10)
    _check_layout(e, t)
    e.load_state_dict(_to_ember_state(t))
    e.eval()
    t.eval()
    x = np.random.default_rng(4).standard_normal((1, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x))
    _assert_close(e(ember.tensor(x)), ref)
    return e


def test_vgg11_eval_logits_match_reference():
    # 64x64: the features end at 2x2 and the adaptive pool replicates them to 7x7, so the
    # classifier's whole first weight is exercised
    e = _check_vgg("vgg11", 64)
    # bad input names the shape expected (the model is reused: a VGG takes seconds to build)
    with pytest.raises(ValueError, match=r"VGG: expected input \(N, 3, H, W\), got shape"):
        e(ember.randn(3, 32, 32))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg11_bn", "vgg16", "vgg16_bn"])
def test_vgg_variants_match_reference(name):
    _check_vgg(name, 32)



# ---- GoogLeNet ---------------------------------------------------------------------------

class _TBasicConv(tnn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = tnn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = tnn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class _TInception(tnn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = _TBasicConv(cin, c1, kernel_size=1)
        self.branch2 = tnn.Sequential(_TBasicConv(cin, c3r, kernel_size=1),
                                      _TBasicConv(c3r, c3, kernel_size=3, padding=1))
        self.branch3 = tnn.Sequential(_TBasicConv(cin, c5r, kernel_size=1),
                                      _TBasicConv(c5r, c5, kernel_size=3, padding=1))
        self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                      _TBasicConv(cin, pp, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                          self.branch4(x)], 1)


class _TAux(tnn.Module):
    def __init__(self, cin, num_classes):
        super().__init__()
        self.conv = _TBasicConv(cin, 128, kernel_size=1)
        self.fc1 = tnn.Linear(2048, 1024)
        self.fc2 = tnn.Linear(1024, num_classes)
        self.dropout = tnn.Dropout(0.7)

    def forward(self, x):
        x = torch.flatten(self.conv(tnn.functional.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


class _TGoogLeNet(tnn.Module):
    """torchvision.models.googlenet.GoogLeNet (transform_input=False), in plain torch.nn."""

    def __init__(self, num_classes=1000, aux_logits=False):
        super().__init__()
        self.conv1 = _TBasicConv(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = tnn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = _TBasicConv(64, 64, kernel_size=1)
        self.conv3 = _TBasicConv(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = tnn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = _TInception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = _TInception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = tnn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = _TInception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = _TInception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = _TInception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = _TInception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = _TInception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = tnn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = _TInception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = _TInception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = _TAux(512, num_classes)
            self.aux2 = _TAux(528, num_classes)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.dropout = tnn.Dropout(0.2)
        self.fc = tnn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if aux else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (x, aux2, aux1) if aux else x


def test_googlenet_eval_logits_match_reference():
    torch.manual_seed(5)
    t = _TGoogLeNet(num_classes=10)
    _randomise_bn(t)
    e = models.get_model("googlenet", num_classes=10)
    _check_layout(e, t)
    e.load_state_dict(_to_ember_state(t))
    e.eval()
    t.eval()
    # 65x65: odd sizes exercise the ceil-mode pools' partial windows
    x = np.random.default_rng(5).standard_normal((2, 3, 65, 65)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x))
    _assert_close(e(ember.tensor(x)), ref)
    # transform_input: torchvision's per-channel x * std / 0.5 + (mean - 0.5) / 0.5 first
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    xt = (x * (std / 0.5) + (mean - 0.5) / 0.5).astype(np.float32)
    plain = e(ember.tensor(xt))
    e.transform_input = True
    np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(), plain.detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_googlenet_aux_logits_train_mode_matches_reference():
    """With the auxiliary classifiers, train mode returns (logits, aux2, aux1) computed with
    batch statistics; dropout set to 0 so the outputs are deterministic."""
    torch.manual_seed(6)
    t = _TGoogLeNet(num_classes=4, aux_logits=True)
    e = models.googlenet(num_classes=4, aux_logits=True, dropout=0.0, dropout_aux=0.0)
    _check_layout(e, t)
    e.load_state_dict(_to_ember_state(t))
    for m in t.modules():
        if isinstance(m, tnn.Dropout):
            m.p = 0.0
    x = np.random.default_rng(6).standard_normal((2, 3, 64, 64)).astype(np.float32)
    ref = t.train()(torch.from_numpy(x))
    out = e.train()(ember.tensor(x))
    assert isinstance(out, models.GoogLeNetOutputs)
    for a, b in zip(out, ref, strict=True):
        _assert_close(a, b, rtol=1e-3)
    with pytest.raises(ValueError, match=r"GoogLeNet: expected input \(N, 3, H, W\)"):
        e(ember.randn(2, 1, 64, 64))
