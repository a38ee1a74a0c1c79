"""make_vec: number of envs, batched observation shapes, seeding, early name errors, protocol."""

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import envs


@pytest.mark.parametrize(
    ("name", "n_envs", "obs_shape"), [("spikerl/Catch-v0", 3, (1, 8, 5)), ("SpaceInvaders", 2, (1, 84, 84))]
)
def test_make_vec_counts_and_shapes(name: str, n_envs: int, obs_shape: tuple) -> None:
    venv = envs.make_vec(name, n_envs=n_envs, seed=0)
    assert isinstance(venv, DummyVecEnv) and venv.num_envs == n_envs
    assert venv.observation_space.shape == obs_shape
    obs = venv.reset()
    assert obs.shape == (n_envs, *obs_shape) and obs.dtype == np.uint8
    obs, rewards, dones, _ = venv.step(np.zeros(n_envs, dtype=np.int64))
    assert obs.shape == (n_envs, *obs_shape) and rewards.shape == dones.shape == (n_envs,)
    venv.close()


def test_make_vec_passes_kwargs_and_seeds_each_env() -> None:
    venv = envs.make_vec("spikerl/PatternAction-v0", n_envs=4, seed=11, n_patterns=2, size=4)
    assert venv.observation_space.shape == (1, 4, 4)
    assert venv.action_space.n == 2
    first = venv.reset()
    again = envs.make_vec("spikerl/PatternAction-v0", n_envs=4, seed=11, n_patterns=2, size=4).reset()
    np.testing.assert_array_equal(first, again)
    # env i is seeded with seed + i, as a single env would be
    single, _ = envs.make("spikerl/PatternAction-v0", n_patterns=2, size=4).reset(seed=11 + 2)
    np.testing.assert_array_equal(first[2], single)


def test_make_vec_rejects_unknown_names_before_building() -> None:
    with pytest.raises(ValueError, match="close matches: Breakout"):
        envs.make_vec("Breakot", n_envs=2)
    with pytest.raises(ValueError, match="n_envs"):
        envs.make_vec("spikerl/Catch-v0", n_envs=0)


def test_describe_protocol_of_a_dummy_vec_env() -> None:
    protocol = envs.describe_protocol(envs.make_vec("spikerl/Catch-v0", n_envs=2))
    assert protocol["id"] == "spikerl/Catch-v0"
    assert protocol["optimal_return"] == envs.CatchEnv().optimal_return
    assert protocol["preprocessing"] == []  # Monitor and checkers are bookkeeping


def test_make_vec_with_subprocesses() -> None:
    venv = envs.make_vec(
        "spikerl/Catch-v0", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv, vec_env_kwargs={"start_method": "fork"}
    )
    try:
        assert venv.num_envs == 2
        assert venv.reset().shape == (2, 1, 8, 5)
        with pytest.raises(TypeError, match="worker processes"):
            envs.describe_protocol(venv)
    finally:
        venv.close()


def test_terminal_on_life_loss_ends_learner_episodes_at_each_life_but_monitors_whole_games() -> None:
    """SpaceInvaders has 3 lives: the learner sees 3 episode ends (lives 2, 1, 0), the Monitor one whole game,
    whose length counts every step of the three."""
    venv = envs.make_vec("SpaceInvaders", n_envs=1, seed=0, terminal_on_life_loss=True, resize=(42, 42))
    venv.reset()
    rng = np.random.default_rng(0)
    ends, steps, total = [], 0, 0.0
    while True:
        _, rewards, dones, infos = venv.step(rng.integers(venv.action_space.n, size=1))
        steps, total = steps + 1, total + float(rewards[0])
        if dones[0]:
            ends.append((infos[0]["lives"], "episode" in infos[0]))
            if "episode" in infos[0]:
                break
    venv.close()
    assert ends == [(2, False), (1, False), (0, True)]
    game = infos[0]["episode"]
    # after each lost life the game goes on with one NOOP step (SB3's EpisodicLifeEnv.reset), not a new game
    assert game["l"] == steps + 2 and game["r"] >= total


def test_life_loss_penalty_shapes_the_learner_reward_only() -> None:
    """With the penalty, each lost life's step (and only those) loses 1 reward unit; the Monitor's game score
    is the game's own (the same actions without the wrappers give the same score)."""
    def play(**options):
        venv = envs.make_vec("SpaceInvaders", n_envs=1, seed=0, resize=(42, 42), **options)
        venv.reset()
        rng = np.random.default_rng(1)
        rewards, lives = [], []
        while True:
            _, reward, _, infos = venv.step(rng.integers(venv.action_space.n, size=1))
            rewards.append(float(reward[0]))
            lives.append(infos[0]["lives"])
            if "episode" in infos[0]:
                venv.close()
                return np.array(rewards), np.array(lives), infos[0]["episode"]["r"]

    plain, lives, score = play()
    shaped, shaped_lives, shaped_score = play(life_loss_penalty=1.0)
    np.testing.assert_array_equal(lives, shaped_lives)
    lost = np.flatnonzero(np.diff(lives, prepend=3) < 0)
    assert len(lost) == 3
    np.testing.assert_array_equal(shaped - plain, np.where(np.isin(np.arange(len(plain)), lost), -1.0, 0.0))
    assert shaped_score == score == plain.sum()


def test_life_loss_options_need_an_ale_game_and_a_positive_penalty() -> None:
    with pytest.raises(ValueError, match="terminal_on_life_loss needs an ALE game"):
        envs.make_vec("spikerl/Catch-v0", n_envs=1, terminal_on_life_loss=True)
    with pytest.raises(ValueError, match="life_loss_penalty needs an ALE game"):
        envs.make_vec("spikerl/Catch-v0", n_envs=1, life_loss_penalty=1.0)
    with pytest.raises(ValueError, match="life_loss_penalty must be a finite number"):
        envs.make_vec("SpaceInvaders", n_envs=1, life_loss_penalty=-1.0)
