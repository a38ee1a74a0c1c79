"""A linear readout on spike counts: multinomial logistic regression trained with torch.

Features are standardised with the training set's mean and standard deviation, then

    p(c | counts) = softmax((counts - mean) / std @ W + b)_c

is fitted by full-batch L-BFGS on the cross-entropy plus ``l2 * ||W||^2 / 2``. The loss is convex, so the
result depends on the data and ``l2`` only (up to the solver's tolerance), not on a seed.
"""

from __future__ import annotations

import torch
from torch import nn


class LinearReadout(nn.Module):
    """Logistic regression from ``n_features`` spike counts to ``n_classes`` classes.

    Example::

        readout = LinearReadout(100, 10).fit(train_counts, train_labels)
        predictions = readout.predict(test_counts)           # long [N]
    """

    def __init__(self, n_features: int, n_classes: int, l2: float = 1e-4) -> None:
        super().__init__()
        if n_features <= 0 or n_classes <= 1:
            raise ValueError(f"need n_features >= 1 and n_classes >= 2, got {n_features} and {n_classes}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = float(l2)
        self.linear = nn.Linear(n_features, n_classes)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def _check(self, counts: torch.Tensor) -> torch.Tensor:
        if not isinstance(counts, torch.Tensor) or counts.dim() != 2 or counts.shape[1] != self.mean.shape[0]:
            shape = list(counts.shape) if isinstance(counts, torch.Tensor) else type(counts).__name__
            raise ValueError(f"expected counts of shape [N, {self.mean.shape[0]}], got {shape}")
        return counts.to(self.mean)

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, n_classes]`` for counts ``[N, n_features]``."""
        return self.linear((self._check(counts) - self.mean) / self.std)

    def fit(self, counts: torch.Tensor, labels: torch.Tensor, max_iter: int = 200) -> LinearReadout:
        """Fit on ``counts [N, n_features]`` and integer ``labels [N]``; returns ``self``."""
        counts = self._check(counts)
        labels = torch.as_tensor(labels, device=counts.device).long()
        if labels.shape != (counts.shape[0],):
            raise ValueError(f"labels must have shape [{counts.shape[0]}], got {list(labels.shape)}")
        n_classes = self.linear.out_features
        if counts.shape[0] == 0 or bool(((labels < 0) | (labels >= n_classes)).any()):
            raise ValueError(f"need at least one sample and labels in [0, {n_classes})")
        with torch.no_grad():
            self.mean.copy_(counts.mean(0))
            self.std.copy_(counts.std(0, correction=0).clamp(min=1e-6))
            self.linear.weight.zero_()
            self.linear.bias.zero_()
        optimizer = torch.optim.LBFGS(self.linear.parameters(), lr=1.0, max_iter=max_iter,
                                      tolerance_grad=1e-6, tolerance_change=1e-9, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self(counts), labels)
            loss = loss + 0.5 * self.l2 * self.linear.weight.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(closure)
        return self

    @torch.no_grad()
    def predict(self, counts: torch.Tensor) -> torch.Tensor:
        """Most probable class of each row, ``long [N]``."""
        return self(counts).argmax(1)
