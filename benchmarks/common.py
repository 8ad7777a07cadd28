"""What both benchmarks share: which systems are installed, and the PyTorch reference MLP they time."""

import math
import time


def available(system, requires):
    """Whether ``system`` can run: the module ``requires[system]`` names imports (systems not named always can)."""
    module = requires.get(system)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def mlp_trainer(widths, X, y, lr, momentum, activation="relu", optimizer="sgd", device="cpu"):
    """An MLP of layer ``widths`` on float32 arrays ``X``, ``y``, and ``train(rows, batch, deadline)``.

    The hidden layers' ``activation`` is relu, sigmoid or tanh; ``optimizer`` is sgd (with ``momentum``) or adam.
    On a ``device`` other than the CPU ("cuda") the model and the rows are moved there first, and every epoch's
    order is drawn there.

    ``train`` runs one epoch over the first ``rows`` rows in a random order, in batches of ``batch``, keeping the
    running loss and accuracy as dnn does, and returns the rows trained (it stops early after ``deadline``).
    """
    import torch

    X, y = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    torch.manual_seed(0)
    hidden = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[activation]
    layers = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [torch.nn.Linear(a, b), hidden()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-2], widths[-1])).to(device)
    if optimizer == "adam":
        torch_optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        torch_optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_function = torch.nn.CrossEntropyLoss()

    def train(rows, batch, deadline=math.inf):
        order = torch.randperm(rows, device=device)
        total, correct, done = 0.0, 0, 0
        for start in range(0, rows, batch):
            index = order[start:start + batch]
            xb, yb = X[index], y[index]
            torch_optimizer.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_function(logits, yb)
            loss.backward()
            torch_optimizer.step()
            total += loss.item() * len(index)
            correct += int((logits.argmax(dim=1) == yb).sum())
            done += len(index)
            if time.perf_counter() > deadline:
                break
        return done

    return train
