"""A stochastic policy over action scores: softmax probabilities, inverse-CDF sampling, uniform exploration.

These are the parts of :func:`spikerl.decoding.softmax_action` and :func:`spikerl.decoding.epsilon_greedy`
that a learning agent needs separately: the probabilities ``pi`` themselves (a policy-gradient rule uses
``1[a chosen] - pi_a``), a sampler that takes exactly one uniform number per sample (so a run's random stream
is easy to reason about and to reproduce), and epsilon-exploration on top of any choice.
"""

from __future__ import annotations

import torch

from spikerl.encoding._checks import check_generator, check_number, check_tensor


def softmax_policy(scores: torch.Tensor, temperature: float = 1.0, validate: bool = True) -> torch.Tensor:
    """``pi[b, a] = exp(s_ba / temperature) / sum_c exp(s_bc / temperature)`` for ``scores [B, n_actions]``;
    ``temperature`` (> 0) is in the units of the scores (spikes, for counts). Returns ``[B, n_actions]``.

    Scores may hold ``-inf`` (probability 0) but no NaN or ``+inf``, and every row needs a finite score: checked
    on the result (one reduction and one read back), since exactly those rows give NaN probabilities;
    ``validate=False`` skips that read for scores finite by construction (e.g. spike counts).
    """
    scores = check_tensor("scores", scores, min_dim=2)
    if scores.dim() != 2 or scores.shape[1] == 0:
        raise ValueError(f"scores must be [B, n_actions] with n_actions >= 1, got shape {list(scores.shape)}")
    temperature = check_number("temperature", temperature, low=0.0, low_open=True)
    pi = torch.softmax(scores / temperature, dim=1)
    if validate and bool(torch.isnan(pi).any()):
        raise ValueError("scores must not contain NaN or +inf, and every row needs at least one score above -inf")
    return pi


def sample_action(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One action per row of ``probs [B, n_actions]`` (rows summing to 1) by inverse-CDF sampling.

    With one uniform ``u_b`` in ``[0, 1)`` per row (``B`` numbers in all, drawn on the generator's device),
    the action is the number of cumulative probabilities below ``u_b``: ``a_b = #{k : sum_{c <= k} pi_bc < u_b}``,
    so ``P(a_b = k) = pi_bk``; a last cumulative sum rounded below 1 cannot yield ``n_actions``. A CPU
    generator may serve probabilities on any device. Returns ``long [B]`` on the device of ``probs``.
    """
    probs = check_tensor("probs", probs, min_dim=2)
    if probs.dim() != 2 or probs.shape[1] == 0:
        raise ValueError(f"probs must be [B, n_actions] with n_actions >= 1, got shape {list(probs.shape)}")
    if generator is not None and generator.device.type != "cpu":
        check_generator(generator, probs.device)
    draw_device = generator.device if generator is not None else probs.device
    u = torch.rand(probs.shape[0], 1, generator=generator, device=draw_device).to(probs.device)
    return (probs.cumsum(1) < u).sum(1).clamp_(max=probs.shape[1] - 1)


def explore_uniformly(actions: torch.Tensor, n_actions: int, epsilon: float,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each of ``actions`` (``long [B]``) with probability ``epsilon`` by a uniformly random action in
    ``[0, n_actions)``: ``P(a) = (1 - epsilon) P_before(a) + epsilon / n_actions``.

    Draws ``B`` uniforms, then ``B`` random actions, on the device of ``actions`` (nothing when ``epsilon`` is
    0: the actions are returned as they are). Returns ``long [B]``.
    """
    epsilon = check_number("epsilon", epsilon, 0.0, 1.0)
    if isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions < 1:
        raise ValueError(f"n_actions must be an int >= 1, got {n_actions!r}")
    if epsilon == 0:
        return actions
    check_generator(generator, actions.device)
    batch = actions.shape[0]
    explored = torch.rand(batch, generator=generator, device=actions.device) < epsilon
    random_actions = torch.randint(n_actions, (batch,), generator=generator, device=actions.device)
    return torch.where(explored, random_actions, actions)
