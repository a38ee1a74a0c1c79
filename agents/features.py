"""A feature layer learned without reward: locally connected (or convolutional) STDP with lateral inhibition.

The Diehl & Cook (2015) mechanism applied to image patches (the layer the policy's actions and critic then read)::

    X: Input (C, H, W) --LocallyConnected2d or Conv2d, PostPre STDP, incoming sums = norm--> F: AdaptiveLIF
    F --Conv2d 1 x 1, -inhibition_mv between different maps at the same position--> F

* ``F`` has ``maps`` feature maps of ``(H_out, W_out)`` positions, one ``patch x patch`` window per position
  with ``stride`` (:class:`spikerl.connections.window2d.Window2d`, no padding). Locally connected (the default)
  gives each position its own weights; ``shared`` uses one filter bank for all positions (a convolution).
  ``patch=0`` makes the window the whole frame: one position, so the maps compete for the frame as Diehl &
  Cook's excitatory neurons compete for a digit.
* Competition: at most one of the ``maps`` neurons at each position fires per step (the largest overshoot wins,
  :class:`spikerl.neurons.AdaptiveLIF` with ``one_spike_per="position"``: Diehl & Cook's one spike per step,
  made local as in convolutional STDP networks), and each neuron inhibits the neurons of the other maps at its
  position (``inhibition_mv`` per spike, one step later), so the winner keeps the patch for the rest of the
  environment step; adaptive thresholds (``theta_plus_mv`` per spike, decaying with ``tau_theta_ms``, Diehl &
  Cook's homeostasis) keep one map from winning every pattern.
* Learning: Diehl & Cook's PostPre rule (nearest-spike traces, depression ``nu_pre = nu_post / 100``) on X->F,
  then each target's incoming weights are rescaled to sum to ``norm``. The traces last 4 ms, not Diehl & Cook's
  20 ms: the network shows each environment step for only ``steps_per_action`` (8) ms without a rest between
  steps, and 20 ms traces paired a frame's feature spikes with the previous frame's pixels (measured on the four
  overlapping 8 x 8 patterns of ``tests/agents/test_agents_features.py``, before the per-position winner was
  added: selectivity ratios 1.05 to 1.1 with 20 ms, 1.04 to 1.55 with 4 ms; with it 1.6 to 1.75; 2 at best). The
  weights are frozen while the network acts on an environment step; the summed update of that step's trains
  is applied afterwards (:meth:`spikerl.network.Network.learn_from_trains`) and the thresholds rise by
  ``theta_plus_mv`` per spike (:meth:`spikerl.neurons.AdaptiveLIF.adapt_to`), as in Diehl & Cook's batched
  learning. The rule has no reward input: rewards and TD errors reach only rules with eligibility
  (``Network.apply_reward``), and the feature layer gets no input from the layers that see them.

Scale (set at calibration from the first observations, like the policy's other weights): with ``m`` input
spikes per step over ``n`` inputs, a target whose ``K = C patch^2`` weights are all equal receives on average
``norm * m / n`` mV per step, so ``norm = drive_mv * n / m``; the mean weight is ``s_f = norm / K``, the
potentiation rate ``nu_post = learning_rate * s_f`` and the weight bound ``wmax = 10 s_f`` (Diehl & Cook's ratio
of the bound to the initial mean weight).
"""

from __future__ import annotations

import math

import torch

from spikerl.connections import Conv2d, LocallyConnected2d
from spikerl.network import Network
from spikerl.neurons import AdaptiveLIF
from spikerl.plasticity import PostPre
from spikerl.traces import TraceParams

#: Layer and connection names of the feature layer in the policy's network.
FEATURE_LAYER = "F"
FEATURE_CONNECTION = "X->F"

#: Diehl & Cook's ratio of the depression rate to the potentiation rate (1e-4 / 1e-2).
DEPRESSION_RATIO = 0.01

#: Upper weight bound in units of the mean weight ``s_f`` (Diehl & Cook: wmax 1, initial mean about 0.1).
WMAX_RATIO = 10.0

#: STDP traces: set to 1 at a spike (Diehl & Cook's nearest-spike traces), 4 ms time constant (see the module
#: docstring: shorter than an environment step's 8 ms).
FEATURE_TRACE = TraceParams(4.0, "nearest")


def add_feature_layer(net: Network, obs_shape: tuple[int, ...], maps: int, patch: int, stride: int, *,
                      shared: bool, inhibition_mv: float, theta_plus_mv: float, tau_theta_ms: float,
                      tau_mem_ms: float) -> tuple[int, ...]:
    """Add ``F``, X->F (plastic, placeholder weights until calibration) and the inhibition F->F to ``net``,
    whose input layer ``X`` has ``obs_shape`` ``(C, H, W)``. Returns the feature layer's shape ``(maps, H_out,
    W_out)``. Raises ``ValueError`` for observations that are not images or a patch larger than the frame."""
    if len(obs_shape) != 3:
        raise ValueError(f"the feature layer needs image observations (channels, height, width), got shape "
                         f"{obs_shape}")
    kind = Conv2d if shared else LocallyConnected2d
    if patch == 0:  # the whole frame: one position, every map sees every pixel
        patch, stride = (obs_shape[1], obs_shape[2]), 1
    placeholder = torch.Generator().manual_seed(0)  # replaced at calibration, from the policy's generator
    conn = kind(obs_shape, maps, patch, stride, wmin=0.0, wmax=math.inf, norm=1.0, generator=placeholder)
    shape = conn.target_shape
    net.add_layer(FEATURE_LAYER, AdaptiveLIF(shape, v_rest_mv=-65.0, v_reset_mv=-65.0, v_thresh_mv=-52.0,
                                             tau_mem_ms=tau_mem_ms, refractory_ms=1.0, theta_plus_mv=theta_plus_mv,
                                             tau_theta_ms=tau_theta_ms, one_spike=True, one_spike_per="position"))
    rule = PostPre(nu_pre=0.0, nu_post=0.0, pre_trace=FEATURE_TRACE, post_trace=FEATURE_TRACE, reduction="sum")
    net.add_connection("X", FEATURE_LAYER, conn, rule=rule)
    if maps > 1 and inhibition_mv > 0:
        others = 1.0 - torch.eye(maps)
        net.add_connection(FEATURE_LAYER, FEATURE_LAYER, Conv2d(shape, maps, 1, w=(-inhibition_mv * others)
                                                                .reshape(maps, maps, 1, 1)))
    return shape


def feature_norm(drive_mv: float, n_inputs: int, input_spikes_per_step: float) -> float:
    """``norm = drive_mv * n / m``: the incoming weight sum that gives a uniform-weight target ``drive_mv`` mV per
    step on average (``n`` inputs, ``m`` input spikes per step)."""
    return drive_mv * n_inputs / input_spikes_per_step


def apply_feature_scale(net: Network, norm: float, learning_rate: float) -> None:
    """Give X->F its ``norm``, the bound ``wmax = WMAX_RATIO * s_f`` and the rule its rates (see the module
    docstring), from ``norm`` and ``s_f = norm / K``."""
    conn, rule = net.connections[FEATURE_CONNECTION], net.rules[FEATURE_CONNECTION]
    mean_weight = norm / math.prod(conn.source_shape[:1] + conn.window.kernel)
    conn.norm, conn.wmax = norm, WMAX_RATIO * mean_weight
    rule.nu_post = learning_rate * mean_weight
    rule.nu_pre = DEPRESSION_RATIO * rule.nu_post


@torch.no_grad()
def initialise_features(net: Network, generator: torch.Generator) -> None:
    """Uniform random X->F weights from ``generator``, each target's incoming sum rescaled to ``norm``."""
    conn = net.connections[FEATURE_CONNECTION]
    conn.set_weights(torch.rand(conn.w.shape, generator=generator, device=generator.device))
    conn.normalize()
