"""``ember.optim``: optimizers, learning-rate schedulers and regularisation penalties.

Names and semantics follow ``torch.optim``::

    opt = ember.optim.Adam(model_params, lr=1e-3)
    sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for x, y in batches:
        opt.zero_grad()               # gradients accumulate: clear them each step
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    sched.step()
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .regularization import l1_penalty, l2_penalty
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "LBFGS",
           "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "lr_scheduler", "l1_penalty",
           "l2_penalty"]
