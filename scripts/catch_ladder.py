"""The Catch ladder: how well the R-STDP agents learn to catch a falling ball as the board grows, from the pixels
or from an oracle's code of the state.

Catch (``envs.CatchEnv``) is Breakout's skill in miniature: a ball falls one row per step, a one-cell paddle on
the bottom row must be under it when it lands (+1, else -1). On 8 x 5 boards the agents learn it from the pixels;
larger boards show where that stops and which part fails. ``--input`` replaces the frame by an oracle's code:

- ``pixels``: the frame itself, ``(1, rows, columns)``;
- ``relative``: one lit pixel at (ball row, ball column - paddle column + columns - 1), ``(1, rows, 2 columns - 1)``:
  the conjunction of ball and paddle that the policy and the value need, given for free;
- ``state``: one lit pixel per state, at (ball row x columns + ball column, paddle column),
  ``(1, rows x columns, columns)``: nothing is shared between states.

Each seed trains a fresh agent (``--agent``, its own defaults plus ``--set KEY=VALUE``) on ``--n-envs`` boards for
``--timesteps`` env steps, scoring the greedy agent on ``--eval-episodes`` episodes (seeds ``--eval-seed`` and up,
the same for every seed and checkpoint) after each of ``--eval-points`` equal parts of the budget: the last
checkpoint is the reported one, no selection. The random policy and each constant action play the same episodes.

Usage::

    python scripts/catch_ladder.py --rows 16 --columns 10 --timesteps 160000 --seeds 0 1 2
    python scripts/catch_ladder.py --agent rstdp-ac --input relative --rows 16 --columns 10
    python scripts/catch_ladder.py --set feature_maps=8 feature_patch=5 feature_stride=2 --seeds 0

The last stdout line is one JSON object::

    {"agent", "input", "rows", "columns", "timesteps", "n_envs", "settings", "eval_episodes", "eval_seed",
     "random_mean", "best_constant_mean", "best_constant", "runs": [{"seed", "curve": [[steps, mean], ...],
     "final", "wall_s"}, ...], "mean_final"}

A return of ``n_balls`` (10) catches every ball, 0 half of them, -10 none.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from spikerl.validation import number_flag

#: ``--input`` choices (see the module docstring).
INPUTS = ("pixels", "relative", "state")


class CatchOracle(gym.ObservationWrapper):
    """Catch's frame replaced by a one-hot code of its state (``code="relative"`` or ``"state"``, see the module
    docstring): uint8, 255 at the lit pixel, 0 elsewhere."""

    def __init__(self, env: gym.Env, code: str) -> None:
        super().__init__(env)
        if code not in ("relative", "state"):
            raise ValueError(f"code must be 'relative' or 'state', got {code!r}")
        catch = env.unwrapped
        self.code = code
        rows, columns = catch.rows, catch.columns
        shape = (1, rows, 2 * columns - 1) if code == "relative" else (1, rows * columns, columns)
        self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        catch = self.env.unwrapped
        code = np.zeros(self.observation_space.shape, dtype=np.uint8)
        if self.code == "relative":
            code[0, catch.ball_row, catch.ball_column - catch.paddle_column + catch.columns - 1] = 255
        else:
            code[0, catch.ball_row * catch.columns + catch.ball_column, catch.paddle_column] = 255
        return code


def make_catch(rows: int, columns: int, code: str, n_envs: int, seed: int) -> Any:
    """``n_envs`` Catch boards (each in SB3's ``Monitor``, env ``i`` seeded ``seed + i``) as a ``DummyVecEnv``,
    observed through ``code`` (``"pixels"``: the frames)."""
    import envs
    from stable_baselines3.common.env_util import make_vec_env

    def make() -> gym.Env:
        env = envs.make("spikerl/Catch-v0", rows=rows, columns=columns)
        return env if code == "pixels" else CatchOracle(env, code)

    return make_vec_env(make, n_envs=n_envs, seed=seed)


def parse_setting(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(KEY, VALUE)``, the value read as a Python literal (``8``, ``0.5``, ``None``,
    ``(3, 3)``) or else kept as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a keyword of the agent, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--agent", choices=("rstdp", "rstdp-ac"), default="rstdp",
                        help="agents.RSTDP (REINFORCE with a baseline) or agents.RSTDPActorCritic (TD error)")
    parser.add_argument("--input", choices=INPUTS, default="pixels", help="what the agent sees (module docstring)")
    parser.add_argument("--rows", type=number_flag(2, integer=True), default=16, help="board height")
    parser.add_argument("--columns", type=number_flag(1, integer=True), default=10, help="board width (<= rows)")
    parser.add_argument("--timesteps", type=number_flag(1, integer=True), default=160_000,
                        help="env steps of training per seed, over all envs")
    parser.add_argument("--n-envs", type=number_flag(1, integer=True), default=4, help="boards simulated as one batch")
    parser.add_argument("--seeds", type=number_flag(0, integer=True), nargs="+", default=[0, 1, 2],
                        help="one fresh agent per seed")
    parser.add_argument("--eval-episodes", type=number_flag(1, integer=True), default=10,
                        help="greedy episodes (of 10 balls) per score")
    parser.add_argument("--eval-seed", type=number_flag(0, integer=True), default=1000,
                        help="evaluation episodes use seeds EVAL_SEED and up")
    parser.add_argument("--eval-points", type=number_flag(1, integer=True), default=4,
                        help="score the agent after each of this many equal parts of the budget")
    parser.add_argument("--set", dest="settings", type=parse_setting, nargs="+", default=[], metavar="KEY=VALUE",
                        help="agent keyword arguments, e.g. feature_maps=8 tau_e_ms=40.0")
    parser.add_argument("--threads", type=number_flag(1, integer=True), default=1, help="torch intra-op threads")
    return parser


def agent_class(name: str) -> type:
    from agents import RSTDP, RSTDPActorCritic

    return {"rstdp": RSTDP, "rstdp-ac": RSTDPActorCritic}[name]


def train_and_score(make_agent: Callable[[int], Any], make_eval_env: Callable[[], Any], seed: int, timesteps: int,
                    eval_points: int, eval_episodes: int) -> dict[str, Any]:
    """One seed: learn in ``eval_points`` parts, scoring the greedy agent after each. Returns ``{"seed", "curve":
    [[steps, mean], ...], "final", "wall_s"}`` (``wall_s``: training and scoring)."""
    from envs.baselines import evaluate

    start = time.perf_counter()
    agent = make_agent(seed)
    bounds = np.linspace(0, timesteps, eval_points + 1).round().astype(int)
    curve = []
    for done, target in zip(bounds[:-1], bounds[1:]):
        agent.learn(int(target - done), reset_num_timesteps=bool(done == 0))
        eval_env = make_eval_env()
        mean, _ = evaluate(agent, eval_env, eval_episodes)
        eval_env.close()
        curve.append([int(target), round(mean, 3)])
        print(f"seed {seed}: {target} steps, greedy {mean:+.2f} ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
    return {"seed": seed, "curve": curve, "final": curve[-1][1], "wall_s": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.columns > args.rows:
        parser.error(f"--columns {args.columns} > --rows {args.rows}: the paddle could not reach every ball")
    settings = dict(args.settings)

    import torch

    from envs.baselines import baselines

    torch.set_num_threads(args.threads)
    cls = agent_class(args.agent)

    def make_agent(seed: int) -> Any:
        return cls(env=make_catch(args.rows, args.columns, args.input, args.n_envs, seed), seed=seed, **settings)

    try:  # bad settings are usage errors, found before any training
        make_agent(args.seeds[0])
    except TypeError as error:
        parser.error(f"--set {' '.join(f'{k}={v!r}' for k, v in settings.items())}: {error}")
    except ValueError as error:
        parser.error(f"--set: {error}")

    def make_eval_env() -> Any:
        return make_catch(args.rows, args.columns, args.input, 1, args.eval_seed)

    base = baselines(make_eval_env, args.eval_episodes, args.eval_seed)
    best = base["best_constant"]
    print(f"Catch {args.rows} x {args.columns}, input {args.input}: random {base['random'][0]:+.2f}, best constant "
          f"{best['name']} {best['mean']:+.2f}", file=sys.stderr, flush=True)
    runs = [train_and_score(make_agent, make_eval_env, seed, args.timesteps, args.eval_points, args.eval_episodes)
            for seed in args.seeds]
    result = {"agent": args.agent, "input": args.input, "rows": args.rows, "columns": args.columns,
              "timesteps": args.timesteps, "n_envs": args.n_envs, "settings": settings,
              "eval_episodes": args.eval_episodes, "eval_seed": args.eval_seed, "random_mean": base["random"][0],
              "best_constant_mean": best["mean"], "best_constant": best["name"], "runs": runs,
              "mean_final": round(float(np.mean([run["final"] for run in runs])), 3)}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
