"""The spikerl/ test environments: API checks, determinism, oracle and random returns, delayed reward."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env

import envs
from envs.toy.catch import LEFT, RIGHT, STAY

TOY_IDS = ["spikerl/PatternAction-v0", "spikerl/Catch-v0"]


def run_episode(env: gym.Env, policy, seed: int) -> float:
    """Return of one episode; ``policy(obs, env) -> action``."""
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs, env))
        total += reward
        done = terminated or truncated
    return total


def pattern_oracle(obs: np.ndarray, env: gym.Env) -> int:
    """Index of the pattern whose lit pixels equal the observation's, read from the observation only."""
    matches = (env.unwrapped.patterns == obs[None]).all(axis=(1, 2, 3))
    return int(np.flatnonzero(matches)[0])


def catch_oracle(obs: np.ndarray, env: gym.Env) -> int:
    """Move the paddle (lit cell of the bottom row) towards the ball (lit cell above it), from the observation."""
    frame = obs[0]
    paddle = int(np.flatnonzero(frame[-1])[0])
    ball_rows, ball_cols = np.nonzero(frame[:-1])
    ball = int(ball_cols[0]) if len(ball_cols) else paddle
    return STAY + int(np.sign(ball - paddle))


def random_policy(obs: np.ndarray, env: gym.Env) -> int:
    return int(env.action_space.sample())


@pytest.mark.parametrize("env_id", TOY_IDS)
def test_toy_envs_pass_the_checkers(env_id: str) -> None:
    """SB3's checker raises nothing; its only warning is the CnnPolicy 36x36 advice (these frames are tiny)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(envs.make(env_id))
    assert all("minimal resolution" in str(w.message) for w in caught)
    gym_check_env(envs.make(env_id).unwrapped, skip_render_check=False)


@pytest.mark.parametrize("env_id", TOY_IDS)
def test_toy_observations_are_channel_first_binary_images(env_id: str) -> None:
    env = envs.make(env_id)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.ndim == 3 and obs.shape[0] == 1
    assert set(np.unique(obs)) <= {0, 255}


@pytest.mark.parametrize("env_id", TOY_IDS)
def test_toy_envs_are_deterministic_given_the_seed(env_id: str) -> None:
    def rollout(seed: int) -> tuple[np.ndarray, np.ndarray]:
        env = envs.make(env_id)
        obs, _ = env.reset(seed=seed)
        observations, rewards = [obs], []
        for action in np.arange(30) % env.action_space.n:
            obs, reward, terminated, _, _ = env.step(int(action))
            observations.append(obs)
            rewards.append(reward)
            if terminated:
                obs, _ = env.reset()
        return np.stack(observations), np.array(rewards)

    first, second, other = rollout(3), rollout(3), rollout(4)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(("env_id", "oracle"), [(TOY_IDS[0], pattern_oracle), (TOY_IDS[1], catch_oracle)])
def test_oracle_policy_gets_the_optimal_return(env_id: str, oracle) -> None:
    env = envs.make(env_id)
    for seed in range(5):
        assert run_episode(env, oracle, seed) == env.unwrapped.optimal_return


def test_random_policy_on_pattern_action_scores_chance() -> None:
    env = envs.make("spikerl/PatternAction-v0")
    env.action_space.seed(0)
    returns = np.array([run_episode(env, random_policy, seed) for seed in range(40)])
    base = env.unwrapped
    k, length = base.action_space.n, base.episode_length
    assert base.chance_return == pytest.approx(length / k)
    # mean of 40 episodes of `length` Bernoulli(1/k) trials: standard error sqrt(length (1/k)(1 - 1/k) / 40)
    standard_error = np.sqrt(length * (1 / k) * (1 - 1 / k) / len(returns))
    assert abs(returns.mean() - base.chance_return) < 4 * standard_error
    assert returns.mean() < 0.5 * base.optimal_return


def test_random_policy_on_catch_scores_clearly_less() -> None:
    env = envs.make("spikerl/Catch-v0")
    env.action_space.seed(0)
    returns = [run_episode(env, random_policy, seed) for seed in range(10)]
    assert np.mean(returns) < 0.5 * env.unwrapped.optimal_return
    assert max(returns) < env.unwrapped.optimal_return


def test_pattern_action_wrong_reward_and_chance_return() -> None:
    env = envs.make("spikerl/PatternAction-v0", n_patterns=4, wrong_reward=-1.0, episode_length=12)
    k, length = 4, 12
    assert env.unwrapped.chance_return == pytest.approx(length * (1 / k - (k - 1) / k))
    obs, _ = env.reset(seed=1)
    wrong = (pattern_oracle(obs, env) + 1) % k
    _, reward, _, _, info = env.step(wrong)
    assert reward == -1.0 and info["correct"] is False


def test_pattern_action_patterns_are_disjoint_and_cover_the_frame() -> None:
    patterns = envs.PatternActionEnv(n_patterns=3, size=8).patterns
    lit = patterns[:, 0] > 0
    assert lit.sum(axis=0).max() == 1 and lit.sum(axis=0).min() == 1
    # band k holds the columns c with floor(3 c / 8) == k
    assert [int(lit[k, 0].sum()) for k in range(3)] == [len([c for c in range(8) if 3 * c // 8 == k]) for k in range(3)]


def test_pattern_action_episode_length_is_fixed() -> None:
    env = envs.make("spikerl/PatternAction-v0", episode_length=7)
    env.reset(seed=0)
    terminations = [env.step(0)[2] for _ in range(7)]
    assert terminations == [False] * 6 + [True]


def test_catch_reward_is_delayed_until_the_ball_lands() -> None:
    rows, n_balls = 6, 3
    env = envs.make("spikerl/Catch-v0", rows=rows, columns=4, n_balls=n_balls)
    env.reset(seed=0)
    rewards, terminated = [], False
    while not terminated:
        _, reward, terminated, _, _ = env.step(STAY)
        rewards.append(reward)
    rewards = np.array(rewards)
    steps_per_ball = rows - 1
    assert len(rewards) == n_balls * steps_per_ball
    landing = np.zeros(len(rewards), bool)
    landing[steps_per_ball - 1 :: steps_per_ball] = True
    assert np.all(rewards[~landing] == 0) and np.all(np.abs(rewards[landing]) == 1)


def test_catch_paddle_moves_and_stays_in_the_frame() -> None:
    env = envs.CatchEnv(rows=8, columns=5)
    env.reset(seed=0)
    start = env.paddle_column
    env.step(RIGHT)
    assert env.paddle_column == start + 1
    for _ in range(5):
        env.step(LEFT)
    assert env.paddle_column == 0


def test_catch_ball_falls_one_row_per_step() -> None:
    env = envs.CatchEnv()
    obs, _ = env.reset(seed=5)
    column = env.ball_column
    assert obs[0, 0, column] == 255
    obs, *_ = env.step(STAY)
    assert obs[0, 1, column] == 255 and env.ball_row == 1


def test_catch_names_its_actions_in_order_for_reports() -> None:
    """Names by index, as ALE's ``get_action_meanings``; reached through the VecEnv as play.py asks for them."""
    env = envs.CatchEnv()
    env.reset(seed=0)
    names = env.get_action_meanings()
    assert names == ["LEFT", "STAY", "RIGHT"] and (names[LEFT], names[STAY], names[RIGHT]) == ("LEFT", "STAY", "RIGHT")
    start = env.paddle_column
    env.step(names.index("LEFT"))
    assert env.paddle_column == start - 1
    vec = envs.make_vec("spikerl/Catch-v0", n_envs=2, seed=0)
    assert vec.env_method("get_action_meanings", indices=[0])[0] == names


@pytest.mark.parametrize(("env_id", "kwargs"), [(TOY_IDS[0], {"size": 8}), (TOY_IDS[1], {"rows": 8, "columns": 5})])
def test_render_returns_an_upscaled_rgb_frame(env_id: str, kwargs: dict) -> None:
    env = envs.make(env_id, render_mode="rgb_array", render_scale=4, **kwargs)
    obs, _ = env.reset(seed=0)
    image = env.render()
    height, width = obs.shape[1:]
    assert image.shape == (4 * height, 4 * width, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[::4, ::4, 0], obs[0])


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [
        (envs.CatchEnv, {"rows": 4, "columns": 6}, "columns <= rows"),
        (envs.CatchEnv, {"n_balls": 0}, "n_balls"),
        (envs.PatternActionEnv, {"n_patterns": 1}, "n_patterns"),
        (envs.PatternActionEnv, {"render_mode": "human"}, "render_mode"),
    ],
)
def test_toy_envs_reject_bad_arguments(factory, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


def test_toy_envs_reject_invalid_actions() -> None:
    env = envs.CatchEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="0 \\(left\\)"):
        env.step(3)
