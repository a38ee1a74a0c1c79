"""How well a policy network can learn what a trained actor-critic computes: fit its values and action distribution.

A cheap proxy for the fits PPO and A2C make at every update, used to choose the spiking extractor's settings by
measurement before spending hours of RL training on them. The teacher (an SB3 PPO or A2C saved by ``play.py``,
``--ann`` or spiking) plays ``--observations`` env steps with sampled actions, in play.py's training envs (ALE games:
the standard Atari preprocessing with 8 envs); a fresh student policy, SB3's own (``--student ann``: ``CnnPolicy`` /
``MlpPolicy`` with ReLU) or a spiking one (``--student spiking``, with the extractor settings given), then fits
the teacher on all but the last ``--holdout`` observations with PPO's loss shapes and optimiser:

    loss = vf_coef * mean (V_student(s) - V_teacher(s))^2 + mean KL(pi_teacher(.|s) || pi_student(.|s))

(Adam with SB3's ``eps = 1e-5``, constant learning rate, gradient norm clipped at 0.5, minibatches drawn
uniformly). Every ``--eval-every`` steps it scores the held-out observations: the explained variance of the
value ``1 - Var(V_student - V_teacher) / Var(V_teacher)``, the mean KL and how often the two greedy actions
agree. Prints one JSON line: ``{"student", "settings", "observations", "holdout", "seconds_per_step", "curve":
[{"step", "explained_variance", "kl", "agreement"}, ...]}``.

Example (the measurement behind the spiking extractor's default surrogate)::

    python scripts/fit_teacher.py SpaceInvaders --teacher runs/SpaceInvaders_ppo_ann_seed0.zip \\
        --student spiking --surrogate fast_sigmoid --slope 25 --steps 300
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import torch

from spikerl.validation import number_flag

STUDENTS = ("spiking", "ann")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Fit a fresh (spiking or SB3) policy to a trained actor-critic's "
                                                 "values and action distribution; report held-out fit quality.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("env", help="short ALE name (SpaceInvaders) or a Gymnasium id (CartPole-v1)")
    parser.add_argument("--teacher", required=True, metavar="MODEL.zip", help="PPO or A2C saved by play.py")
    parser.add_argument("--algo", choices=("ppo", "a2c"), default="ppo", help="the teacher's algorithm")
    parser.add_argument("--student", choices=STUDENTS, default="spiking", help="the policy that learns")
    parser.add_argument("--observations", type=number_flag(2, integer=True), default=16384,
                        help="env steps (over all envs) the teacher plays")
    parser.add_argument("--holdout", type=number_flag(1, integer=True), default=2048,
                        help="the last observations, kept out of training and scored")
    parser.add_argument("--steps", type=number_flag(1, integer=True), default=300, help="gradient steps")
    parser.add_argument("--batch-size", type=number_flag(1, integer=True), default=256)
    parser.add_argument("--learning-rate", type=number_flag(0, low_open=True), default=2.5e-4,
                        help="Adam's learning rate (rl-zoo3's Atari PPO starts at 2.5e-4)")
    parser.add_argument("--vf-coef", type=number_flag(0), default=0.5, help="weight of the value loss")
    parser.add_argument("--eval-every", type=number_flag(1, integer=True), default=150)
    parser.add_argument("--n-envs", type=number_flag(1, integer=True), default=8)
    parser.add_argument("--seed", type=int, default=0, help="seeds the envs, the student and the minibatches")
    parser.add_argument("--threads", type=number_flag(1, integer=True), default=None)
    spiking = parser.add_argument_group("spiking student (features_extractor_kwargs; unset: the extractor's default)")
    spiking.add_argument("--time-steps", type=number_flag(1, integer=True), default=None)
    spiking.add_argument("--surrogate", choices=("fast_sigmoid", "arctan"), default=None)
    spiking.add_argument("--slope", type=number_flag(0, low_open=True), default=None,
                         help="the surrogate's slope (unset: its customary default)")
    spiking.add_argument("--init-gain", type=number_flag(0, low_open=True), default=None)
    spiking.add_argument("--input-gain", type=number_flag(0, low_open=True), default=None)
    spiking.add_argument("--tau-mem-ms", type=number_flag(0, low_open=True), default=None)
    spiking.add_argument("--readout", choices=("membrane", "spike_rate"), default=None)
    spiking.add_argument("--normalization", choices=("none", "layer"), default=None)
    return parser


def heads(policy: Any, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Action logits ``[B, A]`` and values ``[B]`` of an SB3 actor-critic policy for preprocessed-ready ``obs``."""
    features = policy.extract_features(obs)
    if policy.share_features_extractor:
        latent_pi, latent_vf = policy.mlp_extractor(features)
    else:
        latent_pi = policy.mlp_extractor.forward_actor(features[0])
        latent_vf = policy.mlp_extractor.forward_critic(features[1])
    return policy.action_net(latent_pi), policy.value_net(latent_vf)[:, 0]


def collect(model: Any, observations: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``observations`` env steps of the teacher ``model`` (sampled actions) in its env: the observations as the
    policy sees them before preprocessing ``[N, *obs]``, the teacher's logits ``[N, A]`` and values ``[N]``."""
    env = model.get_env()
    env.seed(seed)
    obs = env.reset()
    kept, logits, values = [], [], []
    n_envs = env.num_envs
    with torch.no_grad():
        for _ in range(-(-observations // n_envs)):
            tensor, _ = model.policy.obs_to_tensor(obs)
            lg, v = heads(model.policy, tensor)
            kept.append(torch.as_tensor(obs))
            logits.append(lg)
            values.append(v)
            actions = torch.distributions.Categorical(logits=lg).sample()
            obs, _, _, _ = env.step(actions.cpu().numpy())
    return torch.cat(kept)[:observations], torch.cat(logits)[:observations], torch.cat(values)[:observations]


def score(policy: Any, obs: torch.Tensor, logits: torch.Tensor, values: torch.Tensor,
          batch: int) -> dict[str, float]:
    """Held-out fit: explained variance of the value, mean KL(teacher || student), greedy agreement."""
    with torch.no_grad():
        parts = [heads(policy, policy.obs_to_tensor(obs[i:i + batch].numpy())[0]) for i in range(0, len(obs), batch)]
    student_logits = torch.cat([p[0] for p in parts])
    student_values = torch.cat([p[1] for p in parts])
    variance = float(values.var())
    explained = 1.0 - float((student_values - values).var()) / variance if variance > 0 else None
    return {"explained_variance": None if explained is None else round(explained, 4),
            "kl": round(float(kl_divergence(logits, student_logits).mean()), 5),
            "agreement": round(float((student_logits.argmax(1) == logits.argmax(1)).float().mean()), 4)}


def kl_divergence(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(teacher) || softmax(student))`` per row ``[B]``."""
    teacher_log = teacher_logits.log_softmax(1)
    return (teacher_log.exp() * (teacher_log - student_logits.log_softmax(1))).sum(1)


def student_policy(args: argparse.Namespace, teacher: Any) -> Any:
    """A fresh policy of the kind ``--student`` asks for, on the teacher's spaces, with a constant learning rate."""
    from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy

    from agents import SpikingCnnPolicy, SpikingMlpPolicy

    image = len(teacher.observation_space.shape) == 3
    schedule = lambda _: args.learning_rate  # noqa: E731 (SB3 takes a schedule)
    if args.student == "ann":
        cls = ActorCriticCnnPolicy if image else ActorCriticPolicy
        kwargs: dict[str, Any] = {} if image else {"activation_fn": torch.nn.ReLU}
        return cls(teacher.observation_space, teacher.action_space, schedule, **kwargs)
    extractor = {key: value for key, value in (("time_steps", args.time_steps), ("surrogate", args.surrogate),
                                               ("init_gain", args.init_gain), ("input_gain", args.input_gain),
                                               ("tau_mem_ms", args.tau_mem_ms),
                                               ("readout", args.readout), ("normalization", args.normalization))
                 if value is not None}
    cls = SpikingCnnPolicy if image else SpikingMlpPolicy
    policy = cls(teacher.observation_space, teacher.action_space, schedule, features_extractor_kwargs=extractor)
    if args.slope is not None:
        from spikerl.neurons import LIF
        from spikerl.neurons.surrogate import SurrogateSpike

        surrogate = SurrogateSpike(args.surrogate or policy.features_extractor._surrogate.name, args.slope)
        for module in policy.modules():
            if isinstance(module, LIF):
                module.surrogate = surrogate
    return policy


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    if args.holdout >= args.observations:
        build_parser().error(f"--holdout {args.holdout} must be smaller than --observations {args.observations}")
    spiking_flags = [name for name in ("time_steps", "surrogate", "slope", "init_gain", "input_gain", "tau_mem_ms",
                                       "readout", "normalization") if getattr(args, name) is not None]
    if args.student == "ann" and spiking_flags:
        build_parser().error(f"--student ann takes no spiking settings (got --{spiking_flags[0].replace('_', '-')})")
    if args.threads:
        torch.set_num_threads(args.threads)
    import envs
    from agents import SpikingA2C, SpikingPPO
    from agents.deep.safe_zip import UnsafeModelError
    from envs.names import is_ale_id, resolve_id
    from envs.standard_atari import make_standard_atari

    env_id = resolve_id(args.env)
    env = (make_standard_atari(env_id, args.n_envs, args.seed, training=True) if is_ale_id(env_id)
           else envs.make_vec(env_id, n_envs=args.n_envs, seed=args.seed))
    cls = {"ppo": SpikingPPO, "a2c": SpikingA2C}[args.algo]
    try:
        teacher = cls.load(args.teacher, env=env, device="cpu")
    except (UnsafeModelError, ValueError, KeyError, RuntimeError, FileNotFoundError) as error:
        build_parser().error(f"--teacher {args.teacher}: not a {args.algo.upper()} model this script can load "
                             f"({error})")
    print(f"the teacher plays {args.observations} steps of {env_id}", file=sys.stderr, flush=True)
    obs, logits, values = collect(teacher, args.observations, args.seed)
    env.close()
    train, test = slice(0, len(obs) - args.holdout), slice(len(obs) - args.holdout, None)

    torch.manual_seed(args.seed)
    policy = student_policy(args, teacher)
    generator = torch.Generator().manual_seed(args.seed)
    curve, started, scoring = [], time.perf_counter(), 0.0
    n_train = len(obs) - args.holdout
    for step in range(1, args.steps + 1):
        rows = torch.randint(0, n_train, (args.batch_size,), generator=generator)
        batch_logits, batch_values = heads(policy, policy.obs_to_tensor(obs[train][rows].numpy())[0])
        loss = (args.vf_coef * (batch_values - values[train][rows]).pow(2).mean()
                + kl_divergence(logits[train][rows], batch_logits).mean())
        policy.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
        policy.optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            scored = time.perf_counter()
            curve.append({"step": step, **score(policy, obs[test], logits[test], values[test], args.batch_size)})
            scoring += time.perf_counter() - scored
            print(f"step {step}: {curve[-1]}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started - scoring
    settings = {name: getattr(args, name) for name in spiking_flags}
    result = {"student": args.student, "settings": settings, "env": env_id, "teacher": args.teacher,
              "observations": args.observations, "holdout": args.holdout, "steps": args.steps,
              "learning_rate": args.learning_rate, "seed": args.seed,
              "seconds_per_step": round(seconds / args.steps, 4),
              "curve": curve}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
