"""Image wrappers on hand-made frames: crop, channel-first, frame difference, binarise, and the pipeline."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.env_checker import check_env

import envs
from envs.wrappers import Binarize, ChannelFirst, Crop, FrameDifference, absolute_difference


def test_crop_keeps_the_inner_window(scripted_env) -> None:
    frame = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)  # value = 6 * row + column
    env = Crop(scripted_env(frame[None]), top=1, bottom=2, left=2, right=1)
    obs, _ = env.reset()
    # rows 1..2, columns 2..4
    expected = np.array([[6 * r + c for c in (2, 3, 4)] for r in (1, 2)], dtype=np.uint8)
    np.testing.assert_array_equal(obs, expected)
    assert env.observation_space.shape == (5 - 1 - 2, 6 - 2 - 1)
    assert obs.flags["C_CONTIGUOUS"] and obs.dtype == np.uint8


def test_crop_keeps_channels_of_rgb_frames(scripted_env, random_frames) -> None:
    frames = random_frames(1, 10, 8, 3)
    obs, _ = Crop(scripted_env(frames), top=3, right=2).reset()
    np.testing.assert_array_equal(obs, frames[0, 3:, :6])


@pytest.mark.parametrize(
    ("margins", "what"), [({"top": 6, "bottom": 4}, "top \\+ bottom < 10"), ({"left": 8}, "left \\+ right < 8")]
)
def test_crop_larger_than_the_frame_is_an_error(scripted_env, random_frames, margins, what) -> None:
    with pytest.raises(ValueError, match=f"larger than the frame.*{what}"):
        Crop(scripted_env(random_frames(1, 10, 8)), **margins)


def test_crop_rejects_negative_margins(scripted_env, random_frames) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Crop(scripted_env(random_frames(1, 10, 8)), top=-1)


def test_channel_first_layouts(scripted_env, random_frames) -> None:
    gray = random_frames(1, 4, 5)
    rgb = random_frames(1, 4, 5, 3)
    obs_gray, _ = ChannelFirst(scripted_env(gray)).reset()
    obs_rgb, _ = ChannelFirst(scripted_env(rgb)).reset()
    np.testing.assert_array_equal(obs_gray, gray[0][None])
    np.testing.assert_array_equal(obs_rgb, np.moveaxis(rgb[0], -1, 0))
    assert obs_rgb.shape == (3, 4, 5)


def test_frame_difference_on_hand_made_frames(scripted_env) -> None:
    frames = np.array([[[10, 200], [0, 255]], [[30, 100], [0, 0]], [[30, 101], [9, 0]]], dtype=np.uint8)
    env = FrameDifference(scripted_env(frames))
    first, _ = env.reset()
    second, *_ = env.step(0)
    third, *_ = env.step(0)
    np.testing.assert_array_equal(first, np.zeros((2, 2), np.uint8))  # no motion before the first step
    np.testing.assert_array_equal(second, [[20, 100], [0, 255]])  # |30-10|, |100-200|, |0-0|, |0-255|
    np.testing.assert_array_equal(third, [[0, 1], [9, 0]])


def test_frame_difference_formula_and_reset(scripted_env, random_frames) -> None:
    frames = random_frames(4, 1, 6, 7)
    env = FrameDifference(scripted_env(frames))
    env.reset()
    for t in range(1, 4):
        obs, *_ = env.step(0)
        np.testing.assert_array_equal(obs, np.abs(frames[t].astype(int) - frames[t - 1].astype(int)))
    obs, _ = env.reset()  # reset forgets the previous episode's frame
    assert not obs.any()


def test_frame_difference_include_frame_stacks_frame_and_motion(scripted_env, random_frames) -> None:
    frames = random_frames(2, 1, 3, 4)
    env = FrameDifference(scripted_env(frames), include_frame=True)
    assert env.observation_space.shape == (2, 3, 4)
    obs, _ = env.reset()
    np.testing.assert_array_equal(obs, np.concatenate([frames[0], np.zeros_like(frames[0])]))
    obs, *_ = env.step(0)
    np.testing.assert_array_equal(obs, np.concatenate([frames[1], absolute_difference(frames[1], frames[0])]))
    assert env.observation_space.contains(obs)


def test_frame_difference_include_frame_on_two_dimensional_frames(scripted_env, random_frames) -> None:
    env = FrameDifference(scripted_env(random_frames(2, 3, 4)), include_frame=True)
    assert env.observation_space.shape == (2, 3, 4)


def test_binarize_on_hand_made_frame(scripted_env) -> None:
    frame = np.array([[[0, 100], [101, 255]]], dtype=np.uint8)
    obs, _ = Binarize(scripted_env(frame), threshold=100).reset()
    np.testing.assert_array_equal(obs, [[0, 0], [255, 255]])  # strictly above the threshold is on


@pytest.mark.parametrize("threshold", [-1, 255, 1.5])
def test_binarize_rejects_bad_thresholds(scripted_env, random_frames, threshold) -> None:
    with pytest.raises(ValueError, match="threshold"):
        Binarize(scripted_env(random_frames(1, 3, 3)), threshold=threshold)


@pytest.mark.parametrize("wrapper", [Crop, ChannelFirst, FrameDifference, Binarize])
def test_wrappers_reject_non_image_spaces(wrapper) -> None:
    with pytest.raises(ValueError, match="expects an image observation space"):
        wrapper(gym.make("CartPole-v1"))


def test_wrappers_reject_float_images(scripted_env) -> None:
    env = scripted_env(np.zeros((1, 4, 4), np.uint8))
    env.observation_space = spaces.Box(0.0, 1.0, (4, 4), np.float32)
    with pytest.raises(ValueError, match="dtype uint8"):
        FrameDifference(env)


def test_crop_after_channel_first_is_refused(scripted_env, random_frames) -> None:
    with pytest.raises(ValueError, match="apply Crop before ChannelFirst"):
        Crop(ChannelFirst(scripted_env(random_frames(1, 40, 50))), top=1)


def test_preprocess_shapes_and_dtype(scripted_env, random_frames) -> None:
    frames = random_frames(3, 60, 50, 3)
    env = envs.preprocess(
        scripted_env(frames), crop=(5, 5, 0, 10), resize=(42, 36), frame_difference=True, include_frame=True
    )
    assert env.observation_space == spaces.Box(0, 255, (2, 42, 36), np.uint8)
    obs, _ = env.reset()
    assert obs.shape == (2, 42, 36) and obs.dtype == np.uint8
    rgb_env = envs.preprocess(scripted_env(frames), grayscale=False, resize=(40, 40))
    assert rgb_env.observation_space.shape == (3, 40, 40)


def test_preprocess_passes_check_env_without_warnings(scripted_env, random_frames) -> None:
    frames = random_frames(20, 60, 50, 3)
    env = envs.preprocess(scripted_env(frames), resize=(40, 40), frame_difference=True, binarize=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)


@pytest.mark.parametrize("resize", [(0, 84), (84, -1), (84,), "84x84"])
def test_preprocess_rejects_non_positive_resize(scripted_env, random_frames, resize) -> None:
    with pytest.raises(ValueError, match="resize must be \\(height, width\\)"):
        envs.preprocess(scripted_env(random_frames(1, 30, 30)), resize=resize)


def test_preprocess_rejects_include_frame_without_difference(scripted_env, random_frames) -> None:
    with pytest.raises(ValueError, match="needs frame_difference=True"):
        envs.preprocess(scripted_env(random_frames(1, 30, 30)), include_frame=True)


def test_preprocess_rejects_ram_observations() -> None:
    with pytest.raises(ValueError, match="expects an image observation space"):
        envs.make("Pong", obs_type="ram")
