"""The lines real PyTorch scripts start with run under ``import ember as torch``."""

import ember
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_device_and_accelerator_queries():
    dev = ember.device("cuda" if ember.cuda.is_available() else "cpu")
    assert dev.type == ("cuda" if ember.cuda.is_available() else "cpu")
    assert ember.accelerator.is_available() == ember.cuda.is_available()
    acc = ember.accelerator.current_accelerator()
    assert (acc is None) == (not ember.cuda.is_available())
    assert ember.accelerator.device_count() == ember.cuda.device_count()
    assert ember.backends.mps.is_available() is False and ember.backends.mps.is_built() is False
    assert ember.backends.cudnn.is_available() is False
    assert ember.backends.cuda.is_built() == ember.cuda.is_built()
    ember.backends.cudnn.benchmark = True  # scripts set it; it is kept and changes nothing
    assert ember.backends.cudnn.benchmark is True
    ember.backends.cudnn.benchmark = False


def test_default_device_is_used_by_factories_and_layers():
    assert ember.get_default_device() == ember.device("cpu")
    try:
        ember.set_default_device("cpu")
        assert ember.zeros(2).device == ember.device("cpu")
        assert ember.nn.Linear(2, 3).weight.device == ember.device("cpu")
        if not ember.cuda.is_available():
            ember.set_default_device("cuda")
            with pytest.raises(RuntimeError, match="CUDA is not available"):
                ember.zeros(2)
    finally:
        ember.set_default_device(None)
    assert ember.get_default_device() == ember.device("cpu")


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor"])
def test_legacy_constructors(name):
    ours, theirs = getattr(ember, name), getattr(torch, name)
    data = [[1, 0], [2, 3]]
    a, b = ours(data), theirs(data)
    assert a.type() == "ember." + name and b.type() == "torch." + name
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert ours(2, 3).shape == tuple(theirs(2, 3).shape) == (2, 3)
    assert ours().shape == tuple(theirs().shape) == (0,)
    assert ours((4, 5)).numpy().tolist() == theirs((4, 5)).tolist()  # a tuple is data


def test_type_type_as_tolist_and_format():
    x = ember.tensor([1.5, 2.5])
    assert x.type() == "ember.FloatTensor"
    assert x.type(ember.float64).dtype is ember.float64
    assert x.type("torch.LongTensor").dtype is ember.int64
    assert x.type_as(ember.tensor([1], dtype=ember.int64)).tolist() == [1, 2]
    loss, tloss = ember.tensor(0.123456), torch.tensor(0.123456)
    assert f"{loss:.4f}" == f"{tloss:.4f}" == "0.1235"
    assert f"{x}" == str(x)
    for bad in (x, ember.tensor([2.0])):  # PyTorch formats 0-dim tensors only
        with pytest.raises(TypeError, match="only 0-dim tensors"):
            f"{bad:.2f}"
    with pytest.raises(TypeError):
        f"{torch.tensor([2.0]):.2f}"


def test_randint_argument_forms_and_errors():
    ember.manual_seed(0)
    for args, kwargs in [((10, (3,)), {}), ((2, 10, (3,)), {}), ((10,), {"size": (3,)}),
                         ((2, 10), {"size": (2, 2)})]:
        ours = ember.randint(*args, **kwargs)
        theirs = torch.randint(*args, **kwargs)
        assert ours.shape == tuple(theirs.shape) and ours.dtype is ember.int64
        lo = args[0] if len(args) == 3 or (len(args) == 2 and "size" in kwargs) else 0
        assert ours.numpy().min() >= lo and ours.numpy().max() < 10
    with pytest.raises(TypeError, match="randint: high must be an int"):
        ember.randint(0, 2.5, (3,))


def test_seeding_every_generator_and_grad_mode_helpers():
    ember.cuda.manual_seed_all(3)
    a = ember.rand(3)
    ember.manual_seed(3)
    assert a.tolist() == ember.rand(3).tolist()
    with ember.inference_mode():
        y = ember.ones(2, requires_grad=True) * 2
    assert not y.requires_grad

    @ember.inference_mode()
    def infer():
        return ember.is_grad_enabled()

    assert infer() is False and ember.is_grad_enabled() is True
    with ember.inference_mode(False):
        assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    assert not ember.is_grad_enabled()
    ember.set_grad_enabled(True)


def test_torch_utils_data_spelling_and_small_helpers():
    from ember.utils.data import DataLoader, TensorDataset, random_split

    ds = TensorDataset(ember.arange(10.0), ember.arange(10))
    train, val = random_split(ds, [8, 2])
    assert len(train) == 8 and len(val) == 2
    batches = list(DataLoader(train, batch_size=4))
    assert len(batches) == 2 and batches[0][0].shape == (4,)
    assert ember.is_tensor(ember.ones(1)) and not ember.is_tensor(np.ones(1))
    assert ember.numel(ember.ones(2, 3)) == 6
