"""Network statistics for SB3's logger (so ``tensorboard_log=`` shows what the spiking network does)."""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3.common.logger import Image, Logger

NOT_TEXT = ("stdout", "log", "json", "csv")


def log_network(logger: Logger, policy: Any, run_info: dict[str, torch.Tensor], *, histograms: bool = True,
                images: bool = False) -> None:
    """Record spike rates (Hz) per layer, weight statistics, the reward baseline and optionally images.

    Tags: ``spikes/<layer>_rate_hz`` (scalar, and a histogram of per-neuron rates), ``weights/<conn>_mean``,
    ``_std``, ``_min``, ``_max`` (+ histogram ``weights/<conn>``), ``reward/baseline`` when a baseline is used,
    ``weights/<conn>_image`` (the plastic weight matrix as an image) when ``images``. (``RSTDP.dump_logs``
    adds the reward-prediction error ``reward/prediction_error`` and its magnitude ``_abs``.)
    """
    net = policy.network
    for key, value in run_info.items():
        if not key.endswith(".spikes"):
            continue
        layer = key.split(".", 1)[0]
        per_neuron = value.float().mean((0, 1)).flatten() * (1000.0 / net.dt_ms)
        logger.record(f"spikes/{layer}_rate_hz", float(per_neuron.mean()))
        if histograms:
            logger.record(f"spikes/{layer}_rate_hist", per_neuron.cpu(), exclude=NOT_TEXT)
    input_rate = run_info["input"].float().mean() * (1000.0 / net.dt_ms)
    logger.record("spikes/X_rate_hz", float(input_rate))
    for key, conn in net.connections.items():
        w = conn.weight.detach()
        name = key.replace("->", "_to_")
        logger.record(f"weights/{name}_mean", float(w.mean()))
        logger.record(f"weights/{name}_std", float(w.std()) if w.numel() > 1 else 0.0)
        logger.record(f"weights/{name}_min", float(w.min()))
        logger.record(f"weights/{name}_max", float(w.max()))
        if histograms:
            logger.record(f"weights/{name}", w.flatten().cpu(), exclude=NOT_TEXT)
    for key, rule in net.rules.items():
        baseline = getattr(rule, "baseline", None)
        if baseline is not None and hasattr(baseline, "value"):
            logger.record("reward/baseline", float(baseline.value.mean()))
        if images:
            w = net.connections[key].weight.detach().float().cpu()
            w2 = w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)
            img = (w2 - w2.min()) / (w2.max() - w2.min() + 1e-12)
            logger.record(f"weights/{key.replace('->', '_to_')}_image", Image(img.unsqueeze(0), "CHW"),
                          exclude=NOT_TEXT)
