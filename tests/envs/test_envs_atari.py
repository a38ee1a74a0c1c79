"""The default ALE pipeline, its options, its protocol record, and the no-double-skip rule (few ALE steps)."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.atari_wrappers import MaxAndSkipEnv
from stable_baselines3.common.env_checker import check_env

import envs


def iter_wrappers(env):
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env


def wrapper_names(env) -> list[str]:
    return [step["name"] for step in envs.describe_protocol(env)["preprocessing"]]


def test_default_pipeline_observation() -> None:
    env = envs.make("SpaceInvaders")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (1, *envs.DEFAULT_RESIZE) == (1, 84, 84)
    assert obs.shape == (1, 84, 84) and obs.dtype == np.uint8
    assert env.unwrapped._ezpickle_kwargs["obs_type"] == "grayscale"
    assert wrapper_names(env) == ["Crop", "ResizeObservation", "ChannelFirst"]


def test_default_pipeline_passes_check_env_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(envs.make("SpaceInvaders"))


def test_protocol_of_the_default_pipeline() -> None:
    protocol = envs.describe_protocol(envs.make("SpaceInvaders"))
    crop = envs.SCORE_CROPS["space_invaders"]
    assert protocol["id"] == "ALE/SpaceInvaders-v5"
    assert protocol["frameskip"] == 4 and protocol["frames_per_step"] == 4
    assert protocol["repeat_action_probability"] == 0.25
    assert protocol["full_action_space"] is False
    assert protocol["max_episode_steps"] is None and protocol["max_num_frames_per_episode"] == 108_000
    assert protocol["obs_type"] == "grayscale"
    assert protocol["observation_shape"] == [1, 84, 84] and protocol["observation_dtype"] == "uint8"
    assert protocol["preprocessing"][0] == {"name": "Crop", **crop._asdict()}
    assert protocol["preprocessing"][1] == {"name": "ResizeObservation", "shape": (84, 84)}
    json.dumps(protocol)  # JSON-able, for score reports


def test_protocol_records_changed_ale_settings() -> None:
    env = envs.make("ALE/Breakout-v5", repeat_action_probability=0.0, full_action_space=True, max_episode_steps=50)
    protocol = envs.describe_protocol(env)
    assert protocol["repeat_action_probability"] == 0.0
    assert protocol["full_action_space"] is True and env.action_space.n == 18
    assert protocol["max_episode_steps"] == 50


def test_noframeskip_ids_get_a_max_pooled_skip() -> None:
    env = envs.make("PongNoFrameskip-v4")
    protocol = envs.describe_protocol(env)
    assert protocol["frameskip"] == 1
    assert protocol["preprocessing"][0] == {"name": "MaxAndSkipEnv", "skip": 4}
    assert protocol["frames_per_step"] == 1 * 4
    assert env.observation_space.shape == (1, 84, 84)


def test_v5_with_frameskip_one_gets_a_max_pooled_skip() -> None:
    env = envs.make("Pong", frameskip=1, max_pool_skip=2)
    skips = [wrapper for wrapper in iter_wrappers(env) if isinstance(wrapper, MaxAndSkipEnv)]
    assert len(skips) == 1 and skips[0]._skip == 2
    assert envs.describe_protocol(env)["frames_per_step"] == 1 * 2


def test_skipping_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="skip frames twice"):
        envs.make("Pong", max_pool_skip=4)


def test_pipeline_options_change_the_observation() -> None:
    no_crop = envs.make("SpaceInvaders", crop=None, resize=None)
    assert no_crop.observation_space.shape == (1, 210, 160)
    top, bottom, left, right = envs.SCORE_CROPS["breakout"]
    cropped = envs.make("Breakout", resize=None)
    assert cropped.observation_space.shape == (1, 210 - top - bottom, 160 - left - right)
    custom = envs.make("Pong", crop=(10, 0, 0, 0), resize=(42, 42))
    assert custom.observation_space.shape == (1, 42, 42)
    colour = envs.make("Pong", grayscale=False, frame_difference=True, include_frame=True)
    assert colour.observation_space.shape == (2 * 3, 84, 84)
    assert envs.make("Pong", preprocessing=False).observation_space.shape == (210, 160, 3)


def test_frame_difference_and_binarize_in_the_pipeline() -> None:
    env = envs.make("Pong", frame_difference=True, binarize=0)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    assert not obs.any()  # first motion map after reset is zero
    seen = set()
    for _ in range(20):
        obs, *_ = env.step(env.action_space.sample())
        seen |= set(np.unique(obs).tolist())
    assert seen == {0, 255}  # binary motion map, and something moved


def test_ale_pipeline_is_deterministic_given_the_seed() -> None:
    def rollout(seed: int) -> np.ndarray:
        env = envs.make("Breakout")
        obs, _ = env.reset(seed=seed)
        frames = [obs]
        for action in [1, 2, 2, 3, 1, 2] * 4:  # sticky actions draw from the seeded ALE generator
            frames.append(env.step(action)[0])
        return np.stack(frames)

    np.testing.assert_array_equal(rollout(7), rollout(7))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"crop": (200, 20, 0, 0)}, "larger than the frame"),
        ({"resize": (0, 84)}, "positive integer"),
        ({"crop": (1, 2)}, "crop must be"),
    ],
)
def test_pipeline_argument_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        envs.make("SpaceInvaders", **kwargs)


def test_make_atari_refuses_non_ale_ids() -> None:
    with pytest.raises(ValueError, match="expects an ALE game"):
        envs.make_atari("CartPole-v1")
