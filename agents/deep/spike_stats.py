"""Per-layer spike rates and membrane statistics of spiking policies, for SB3's logger (TensorBoard).

:class:`SpikeStatsCallback` re-runs the policy's spiking extractors on the latest observations of the rollout
(``model._last_obs``) with activity probes on (the layers' Network path: the same neuron step, no gradient)
and records, for each extractor ``<net>`` (``features_extractor``, ``pi_features_extractor``,
``vf_features_extractor``, ``q_net.features_extractor``; DQN's target network is skipped) and LIF layer
``<layer>``:

* ``spikes/<net>/<layer>_rate``: spikes per neuron per simulation step, mean over neurons, steps and envs;
* ``spikes/<net>/<layer>_silent_fraction``: fraction of neurons that did not fire in any step or env;
* ``membrane/<net>/<layer>_mean``, ``_std``, ``_max``: the membrane potential (after reset) over all
  neurons, steps and envs;
* histograms ``spikes/<net>/<layer>_rates`` (per neuron) and ``membrane/<net>/<layer>_v`` (TensorBoard only).

The spiking algorithms (:mod:`agents.deep.algorithms`) add it to every ``learn``; with SB3's own algorithms
pass it as a callback: ``PPO(SpikingCnnPolicy, env).learn(n, callback=SpikeStatsCallback())``.
"""

from __future__ import annotations

import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.preprocessing import preprocess_obs

from agents.deep.extractors import SpikingFeaturesExtractor

NOT_TEXT = ("stdout", "log", "json", "csv")


def spiking_extractors(policy: torch.nn.Module) -> dict[str, SpikingFeaturesExtractor]:
    """The policy's spiking extractors by attribute path, each once, without DQN's target network and
    without the unused ``features_extractor`` of an actor-critic policy that does not share it."""
    found: dict[str, SpikingFeaturesExtractor] = {}
    seen: set[int] = set()
    unused = "" if getattr(policy, "share_features_extractor", True) else "features_extractor"
    for name, module in policy.named_modules(remove_duplicate=False):
        if name == unused or "target" in name:
            continue
        if isinstance(module, SpikingFeaturesExtractor) and id(module) not in seen:
            seen.add(id(module))
            found[name] = module
    return found


def layer_stats(spikes: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor | float]:
    """Statistics of one layer's ``spikes`` and membranes ``v`` (both ``[T, B, *shape]``)."""
    per_neuron = spikes.mean((0, 1)).flatten()
    return {"rate": float(per_neuron.mean()), "silent_fraction": float((per_neuron == 0).float().mean()),
            "v_mean": float(v.mean()), "v_std": float(v.std()) if v.numel() > 1 else 0.0,
            "v_max": float(v.max()), "rates": per_neuron, "v": v.flatten()}


class SpikeStatsCallback(BaseCallback):
    """Record the spiking layers' activity after each rollout (see the module docstring).

    Args:
        min_steps_between: record only when at least this many env steps have passed since the last record
            (off-policy algorithms end a "rollout" every few steps).
        histograms: also record per-neuron rate and membrane histograms.
    """

    def __init__(self, min_steps_between: int = 0, histograms: bool = True, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.min_steps_between = min_steps_between
        self.histograms = histograms
        self._last_record: int | None = None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        obs = getattr(self.model, "_last_obs", None)
        if obs is None:
            return
        if self._last_record is not None and self.num_timesteps - self._last_record < self.min_steps_between:
            return
        self._last_record = self.num_timesteps
        self.record(obs)

    def record(self, obs: object) -> None:
        """Probe every spiking extractor of the policy on ``obs`` (a vec-env observation batch) and record."""
        policy = self.model.policy
        tensor, _ = policy.obs_to_tensor(obs)
        tensor = preprocess_obs(tensor, policy.observation_space, normalize_images=policy.normalize_images)
        for net, extractor in spiking_extractors(policy).items():
            with torch.no_grad(), extractor.probing() as probes:
                extractor(tensor)
            for layer, signals in probes.items():
                stats = layer_stats(signals["spikes"], signals["v"])
                self.logger.record(f"spikes/{net}/{layer}_rate", stats["rate"])
                self.logger.record(f"spikes/{net}/{layer}_silent_fraction", stats["silent_fraction"])
                for key in ("mean", "std", "max"):
                    self.logger.record(f"membrane/{net}/{layer}_{key}", stats[f"v_{key}"])
                if self.histograms:
                    self.logger.record(f"spikes/{net}/{layer}_rates", stats["rates"].cpu(), exclude=NOT_TEXT)
                    self.logger.record(f"membrane/{net}/{layer}_v", stats["v"].cpu(), exclude=NOT_TEXT)
