"""Learning PyTorch with Examples: fitting sin(x) with a third-order polynomial, four ways --
tensors and autograd with a manual update (``a -= learning_rate * a.grad``, ``a.grad = None``),
a custom ``torch.autograd.Function`` (``LegendrePolynomial3`` with ``ctx.save_for_backward``),
``nn.Sequential`` over ``x.unsqueeze(-1).pow(p)`` with ``nn.Flatten(0, 1)`` and
``MSELoss(reduction='sum')``, and ``optim.RMSprop``.
"""

from __future__ import annotations

import math


def run(torch, steps: int = 200, log=print, dtype: str = "float64") -> list[float]:
    torch_dtype = getattr(torch, dtype)
    device = torch.device("cpu")
    losses: list[float] = []

    x = torch.linspace(-math.pi, math.pi, 200, device=device, dtype=torch_dtype)
    y = torch.sin(x)

    # Tensors and autograd, weights updated by hand
    a, b, c, d = (torch.full((), v, device=device, dtype=torch_dtype, requires_grad=True)
                  for v in (0.1, -0.2, 0.3, -0.05))
    learning_rate = 1e-5
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            log(t, loss.item())
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    log(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")

    # Defining new autograd functions
    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    a, b, c, d = (torch.full((), v, device=device, dtype=torch_dtype, requires_grad=True)
                  for v in (0.0, -1.0, 0.0, 0.3))
    learning_rate = 5e-6
    for t in range(steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            log(t, loss.item())
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= learning_rate * p.grad
                p.grad = None

    # nn + optim
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1)).to(torch_dtype)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.2, -0.1, 0.05]], dtype=torch_dtype))
        model[0].bias.fill_(0.1)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            log(t, loss.item())
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    linear_layer = model[0]
    log(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
        f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
    losses += linear_layer.weight.flatten().tolist()
    return losses
