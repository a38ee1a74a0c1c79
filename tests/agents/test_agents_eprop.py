"""The plastic hidden layer (``hidden_learning_rate > 0``): reward-based e-prop with random or symmetric feedback.
One env step's eligibility and the weight change of a reward against hand computations, the actor-critic's
value term, the defaults (no rule, no buffers) and the checks of bad settings."""

from __future__ import annotations

import math

import pytest
import torch
from gymnasium import spaces

import envs  # noqa: F401  (registers the spikerl envs)
from agents import RSTDP, RSTDPActorCritic
from agents.actor_critic_policy import ActorCriticSpikingPolicy, CriticConfig
from agents.policy import RuleConfig, SpikingPolicy, SpikingPolicyConfig

OBS = spaces.Box(0.0, 1.0, (2,))
CONFIG = SpikingPolicyConfig(hidden_size=3, hidden_learning_rate=0.5, population_size=2, steps_per_action=2,
                             input_spikes_per_step=1.0)


def run_info() -> tuple[dict, torch.Tensor]:
    """One env step (T = 2, one env) by hand. Inputs: step 0 fires input 0, step 1 both. Hidden membranes (mV;
    rest -65, threshold -52, so psi = max(0, 1 - |v + 52| / 13)): step 0 (-52, -58.5, -65), no spike -> psi
    (1, 0.5, 0); step 1 (-65, -55.25, -70) with neuron 0 spiking (reset) -> psi (1, 0.75, 0). pi = (0.25, 0.75),
    action 0 chosen: the policy factor is (0.75, -0.75)."""
    info = {"input": torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]]),
            "H.v": torch.tensor([[[-52.0, -58.5, -65.0]], [[-65.0, -55.25, -70.0]]]),
            "H.spikes": torch.tensor([[[False, False, False]], [[True, False, False]]]),
            "policy": torch.tensor([[0.25, 0.75]])}
    return info, torch.tensor([0])


def expected_eligibility(signal: list[float]) -> torch.Tensor:
    """e_ij = sum_t d_e^(T-1-t) x_i(t) psi_j(t) L_j: presynaptic traces x(0) = (1, 0), x(1) = (d_p + 1, 1)
    (tau_plus 10 ms), d_e = exp(-1 / 20) (tau_e 20 ms)."""
    d_p, d_e = math.exp(-1 / 10), math.exp(-1 / 20)
    x = [[1.0, 0.0], [d_p + 1.0, 1.0]]
    psi = [[1.0, 0.5, 0.0], [1.0, 0.75, 0.0]]
    return torch.tensor([[sum(d_e ** (1 - t) * x[t][i] * psi[t][j] * signal[j] for t in range(2))
                          for j in range(3)] for i in range(2)])


def policy(cls=SpikingPolicy, **kwargs) -> SpikingPolicy:
    p = cls(OBS, spaces.Discrete(2), CONFIG, RuleConfig(baseline_window=None), seed=0, **kwargs)
    assert p.calibrate(torch.full((1, 2), 0.5))
    p.hidden_feedback.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.0], [0.5, 0.5]]))
    return p


def test_pseudo_derivative_by_hand():
    p = policy()
    info, _ = run_info()
    psi = p.pseudo_derivative(info["H.v"], info["H.spikes"])
    torch.testing.assert_close(psi, torch.tensor([[[1.0, 0.5, 0.0]], [[1.0, 0.75, 0.0]]]))


def test_one_step_eligibility_and_reward_update_by_hand():
    """Random feedback B = [[1, -1], [2, 0], [0.5, 0.5]]: L = B (0.75, -0.75) = (1.5, 1.5, 0). A TD error (here a
    reward) of 2 then moves the input->hidden weights by lr * 2 * e, lr = 0.5 * the mean initial weight."""
    p = policy()
    info, actions = run_info()
    torch.testing.assert_close(p.hidden_learning_signal(actions, info), torch.tensor([[1.5, 1.5, 0.0]]))
    state = p.learn_hidden(actions, info, p.network.initial_state(1))
    e = p.network.rules["X->H"].eligibility(state.rules["X->H"])[0]
    expected = expected_eligibility([1.5, 1.5, 0.0])
    torch.testing.assert_close(e, expected)
    lr = p.network.rules["X->H"].lr
    assert lr == pytest.approx(0.5 * float(p.hidden_weight_scale))
    assert float(p.hidden_weight_scale) == pytest.approx(CONFIG.hidden_drive_mv / 1.0)  # 1 input spike per step
    before = p.network.connections["X->H"].w.clone()
    p.network.apply_reward(torch.tensor([2.0]), state=state)
    torch.testing.assert_close(p.network.connections["X->H"].w - before, lr * 2.0 * expected)


def test_symmetric_feedback_reads_the_output_weights():
    """hidden_feedback="symmetric": B_jk = (sum of hidden j's weights onto population k) / s."""
    config = SpikingPolicyConfig(**{**CONFIG.__dict__, "hidden_feedback": "symmetric"})
    p = SpikingPolicy(OBS, spaces.Discrete(2), config, RuleConfig(baseline_window=None), seed=0)
    assert p.calibrate(torch.full((1, 2), 0.5))
    s = float(p.weight_scale)
    p.network.connections[p.plastic].set_weights(s * torch.tensor([[1.0, 0.0, 0.5, 0.5], [2.0, 1.0, 0.0, 0.0],
                                                                   [0.0, 0.0, 3.0, 1.0]]))
    info, actions = run_info()
    # B = [[1, 1], [3, 0], [0, 4]]; L = B (0.75, -0.75) = (0, 2.25, -3)
    torch.testing.assert_close(p.hidden_learning_signal(actions, info), torch.tensor([[0.0, 2.25, -3.0]]))


def test_the_actor_critic_adds_the_critics_feedback():
    """L_j = sum_k B_jk (1[k] - pi_k) + value_feedback * b_j, with the critic's own random feedback b."""
    p = policy(ActorCriticSpikingPolicy, critic=CriticConfig(value_feedback=0.5))
    p.hidden_value_feedback.copy_(torch.tensor([2.0, -1.0, 4.0]))
    info, actions = run_info()
    signal = p.hidden_learning_signal(actions, info)
    torch.testing.assert_close(signal, torch.tensor([[1.5 + 1.0, 1.5 - 0.5, 0.0 + 2.0]]))
    state = p.learn_hidden(actions, info, p.network.initial_state(1))
    torch.testing.assert_close(p.network.rules["X->H"].eligibility(state.rules["X->H"])[0],
                               expected_eligibility(signal[0].tolist()))


def test_symmetric_critic_feedback_reads_the_critic_weights():
    """critic feedback "symmetric": b_j = mean over the critic neurons of hidden j's weights onto them / s_c, so a
    TD error moves a hidden neuron's input the way that moves V towards its target (b_j >= 0)."""
    p = policy(ActorCriticSpikingPolicy, critic=CriticConfig(population_size=2, value_feedback=0.5,
                                                             feedback="symmetric"))
    s_c = float(p.critic_weight_scale)
    p.network.connections[p.critic].set_weights(s_c * torch.tensor([[1.0, 3.0], [0.0, 0.0], [4.0, 2.0]]))
    torch.testing.assert_close(p.critic_feedback(), torch.tensor([2.0, 0.0, 3.0]))
    info, actions = run_info()
    # the actor's random feedback gives (1.5, 1.5, 0) (see above); the critic adds 0.5 * (2, 0, 3)
    torch.testing.assert_close(p.hidden_learning_signal(actions, info), torch.tensor([[2.5, 1.5, 1.5]]))
    with pytest.raises(ValueError, match="critic feedback"):
        CriticConfig(feedback="transpose")


def test_fixed_hidden_layer_has_no_rule_and_no_feedback():
    """The default (hidden_learning_rate 0) is the fixed random layer: no rule on X->H, no feedback buffers (old
    checkpoints keep loading), and nothing recorded beyond the spikes."""
    p = SpikingPolicy(OBS, spaces.Discrete(2), SpikingPolicyConfig(hidden_size=3), seed=0)
    assert "X->H" not in p.network.rules and not hasattr(p, "hidden_feedback")
    assert "H.v" not in p.recorded()


def test_weight_bound_by_hand():
    """hidden_weight_bound k keeps the input->hidden weights within mu +- k sigma. Here one input spike per step
    (m = 1): mu = 1.5 / 1 and sigma = 1 * 1.5 / sqrt(1), so k = 2 gives [-1.5, 4.5]; a large TD error of either
    sign drives every eligible weight onto the bound and no further, while without the bound it goes past."""
    config = SpikingPolicyConfig(**{**CONFIG.__dict__, "hidden_weight_bound": 2.0})
    bounded = SpikingPolicy(OBS, spaces.Discrete(2), config, RuleConfig(baseline_window=None), seed=0)
    free = SpikingPolicy(OBS, spaces.Discrete(2), CONFIG, RuleConfig(baseline_window=None), seed=0)
    for p in (bounded, free):
        assert p.calibrate(torch.full((1, 2), 0.5))
        p.hidden_feedback.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.0], [0.5, 0.5]]))
    conn = bounded.network.connections["X->H"]
    assert (conn.wmin, conn.wmax) == pytest.approx((-1.5, 4.5))
    # the same draws, those beyond the bound clamped onto it (here one, 2.2 sigma below mu)
    torch.testing.assert_close(conn.w, free.network.connections["X->H"].w.clamp(-1.5, 4.5))
    info, actions = run_info()
    eligible = expected_eligibility([1.5, 1.5, 0.0]) > 0  # neurons 0 and 1 (the third has psi = 0)
    for p in (bounded, free):
        state = p.learn_hidden(actions, info, p.network.initial_state(1))
        p.network.apply_reward(torch.tensor([1e3]), state=state)
    assert torch.all(conn.w[eligible] == conn.wmax)  # clamped onto the bound itself (4.5)
    assert torch.all(free.network.connections["X->H"].w[eligible] > 100.0)
    state = bounded.learn_hidden(actions, info, bounded.network.initial_state(1))
    bounded.network.apply_reward(torch.tensor([-1e3]), state=state)
    assert torch.all(conn.w[eligible] == conn.wmin)  # -1.5
    assert float(conn.w.min()) >= conn.wmin and float(conn.w.max()) <= conn.wmax


def test_weight_bound_is_saved_and_refused_where_it_means_nothing(tmp_path):
    agent = RSTDP("SpikingPolicy", "spikerl/PatternAction-v0", hidden_size=8, hidden_learning_rate=0.001,
                  hidden_weight_bound=3.0, seed=0)
    agent.learn(40)
    conn = agent.policy.network.connections["X->H"]
    agent.save(tmp_path / "a.pt")
    loaded = RSTDP.load(tmp_path / "a.pt")
    assert loaded.policy.config.hidden_weight_bound == 3.0
    assert (loaded.policy.network.connections["X->H"].wmin, loaded.policy.network.connections["X->H"].wmax) == (
        conn.wmin, conn.wmax)
    assert math.isfinite(conn.wmax) and conn.wmin < float(agent.policy.hidden_weight_scale) < conn.wmax
    with pytest.raises(ValueError, match="hidden_weight_bound.*hidden_learning_rate"):
        SpikingPolicyConfig(hidden_size=4, hidden_weight_bound=3.0)
    with pytest.raises(ValueError, match="hidden_weight_bound.*hidden_spread"):
        SpikingPolicyConfig(hidden_size=4, hidden_learning_rate=0.1, hidden_spread=0.0, hidden_weight_bound=3.0)
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="hidden_weight_bound"):
            SpikingPolicyConfig(hidden_size=4, hidden_learning_rate=0.1, hidden_weight_bound=bad)


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="hidden_learning_rate.*hidden_size"):
        SpikingPolicyConfig(hidden_learning_rate=0.1)
    with pytest.raises(ValueError, match="hidden_learning_rate"):
        SpikingPolicyConfig(hidden_size=4, hidden_learning_rate=-1.0)
    with pytest.raises(ValueError, match="hidden_feedback"):
        SpikingPolicyConfig(hidden_size=4, hidden_learning_rate=0.1, hidden_feedback="transpose")
    with pytest.raises(ValueError, match="value_feedback"):
        CriticConfig(value_feedback=float("nan"))


@pytest.mark.parametrize("cls", [RSTDP, RSTDPActorCritic])
def test_agents_learn_save_and_load_the_hidden_layer(cls, tmp_path):
    """A short run changes the input->hidden weights; save and load keep the weights, the feedback and the
    setting, and the loaded rule has the same rate."""
    agent = cls(cls.policy_name, "spikerl/PatternAction-v0", hidden_size=8, hidden_learning_rate=0.001,
                hidden_feedback="random", seed=0)
    agent.learn(60)
    p = agent.policy
    assert p.calibrated and float(p.hidden_feedback.abs().sum()) > 0
    w = p.network.connections["X->H"].w.clone()
    agent.learn(60, reset_num_timesteps=False)
    assert not torch.equal(w, p.network.connections["X->H"].w)
    agent.save(tmp_path / "a.pt")
    loaded = cls.load(tmp_path / "a.pt")
    assert loaded.policy.config.hidden_learning_rate == 0.001
    torch.testing.assert_close(loaded.policy.hidden_feedback, p.hidden_feedback)
    torch.testing.assert_close(loaded.policy.network.connections["X->H"].w, p.network.connections["X->H"].w)
    assert loaded.policy.network.rules["X->H"].lr == pytest.approx(p.network.rules["X->H"].lr)
    torch.testing.assert_close(loaded.policy.hidden_weight_scale, p.hidden_weight_scale)


def test_the_factored_hidden_rule_learns_what_mstdpet_learns() -> None:
    """The hidden layer's FactoredMSTDPET against the dense MSTDPET it replaced, on the agent's own trains: 600 Catch
    steps on 2 envs (episodes end, so rows are reset; many folds). A dense shadow eligibility receives every
    pairing and reset the agent makes, and every TD error the agent delivers moves the hidden weights by what the
    dense rule gives, within float32 rounding (the same trains on both sides, so no spike can differ)."""
    from spikerl.plasticity import MSTDPET

    model = RSTDPActorCritic(env=envs.make_vec("spikerl/Catch-v0", n_envs=2, seed=0), seed=0, hidden_size=16,
                             hidden_learning_rate=1e-3)
    net = model.policy.network
    factored, conn = net.rules["X->H"], net.connections["X->H"]
    dense = MSTDPET(a_plus=factored.a_plus, a_minus=factored.a_minus, tau_e_ms=factored.tau_e_ms,
                    pre_trace=factored.pre_trace, post_trace=factored.post_trace)
    shadow = {"state": dense.initial_state(conn, 2)}
    worst = {"error": 0.0, "deliveries": 0, "resets": 0}
    accumulate, apply_reward, reset_rows = net.accumulate_eligibility, net.apply_reward, net.reset_rows

    def accumulate_both(connection, pre, post, *, state=None, inplace=False):
        if connection == "X->H":
            shadow["state"] = dense.accumulate(conn, pre, post, shadow["state"], net.dt_ms)
        return accumulate(connection, pre, post, state=state, inplace=inplace)

    def apply_reward_both(reward, *, state=None, validate=True):
        dense.lr = factored.lr
        expected = dense.reward_update(conn, shadow["state"], reward)
        got = factored.reward_update(conn, state.rules["X->H"], reward)
        scale = float(expected.abs().max()) + 1e-30
        worst["error"] = max(worst["error"], float((got - expected).abs().max()) / scale)
        worst["deliveries"] += 1
        return apply_reward(reward, state=state, validate=validate)

    def reset_rows_both(rows, *, state=None):
        done = torch.as_tensor(rows, dtype=torch.bool)
        if bool(done.any()):
            worst["resets"] += 1
            shadow["state"] = type(shadow["state"])(*(torch.where(done.reshape(-1, *[1] * (t.dim() - 1)),
                                                                  torch.zeros_like(t), t)
                                                      for t in shadow["state"]))
        return reset_rows(rows, state=state)

    net.accumulate_eligibility, net.apply_reward, net.reset_rows = accumulate_both, apply_reward_both, reset_rows_both
    model.learn(600)
    assert worst["deliveries"] >= 290 and worst["resets"] >= 4
    assert worst["error"] < 1e-4, worst
