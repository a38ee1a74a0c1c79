"""Name resolution: short ALE names, pass-through ids, and the close-match error."""

import gymnasium as gym
import pytest
from ale_py.roms import get_all_rom_ids

import envs


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SpaceInvaders", "ALE/SpaceInvaders-v5"),
        ("Breakout", "ALE/Breakout-v5"),
        ("Pong", "ALE/Pong-v5"),
        ("space_invaders", "ALE/SpaceInvaders-v5"),
        ("PONG", "ALE/Pong-v5"),
    ],
)
def test_short_names_map_to_v5_ids(name: str, expected: str) -> None:
    assert envs.resolve_id(name) == expected


@pytest.mark.parametrize(
    "env_id", ["CartPole-v1", "ALE/Pong-v5", "PongNoFrameskip-v4", "spikerl/Catch-v0", "spikerl/PatternAction-v0"]
)
def test_full_ids_pass_through(env_id: str) -> None:
    assert envs.resolve_id(env_id) == env_id


def test_game_list_comes_from_the_rom_list() -> None:
    games = envs.ale_games()
    roms = set(get_all_rom_ids())
    assert {"SpaceInvaders", "Breakout", "Pong"} <= set(games)
    for short, env_id in games.items():
        assert env_id == f"ALE/{short}-v5"
        assert gym.spec(env_id).kwargs["game"] in roms
    # every ROM with a registered single-player v5 id is offered
    v5_roms = {gym.spec(i).kwargs["game"] for i in gym.registry if i.startswith("ALE/") and i.endswith("-v5")}
    assert len(games) == len(v5_roms & roms)


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(ValueError, match="SpaceInvader'") as info:
        envs.resolve_id("SpaceInvader")
    message = str(info.value)
    assert "close matches" in message and "SpaceInvaders" in message


def test_unknown_name_without_match_says_so() -> None:
    with pytest.raises(ValueError, match="no close match"):
        envs.make("qqqqqqqqqqqq")


def test_non_string_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected an environment name"):
        envs.resolve_id(None)  # type: ignore[arg-type]


def test_is_ale_id() -> None:
    assert envs.is_ale_id("ALE/Pong-v5") and envs.is_ale_id("PongNoFrameskip-v4")
    assert not envs.is_ale_id("CartPole-v1") and not envs.is_ale_id("spikerl/Catch-v0")


def test_make_passes_non_ale_ids_to_gym_make() -> None:
    env = envs.make("CartPole-v1", max_episode_steps=7)
    assert env.spec.id == "CartPole-v1"
    assert envs.describe_protocol(env)["max_episode_steps"] == 7
