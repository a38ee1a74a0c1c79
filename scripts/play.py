"""Train an agent on a game, then score it beside the random policy and every constant action, same protocol.

Agents (``--algo``):

* ``rstdp`` (default): :class:`agents.RSTDP`, reward-modulated STDP. Steps: build ``--n-envs`` copies of the env
  (:func:`envs.make_vec`: ALE games get the spiking-friendly preprocessing of :mod:`envs.atari`), train for
  ``--timesteps`` env steps (progress bar on stderr, TensorBoard logs under ``--tensorboard``) and save it.
  Every ``--validate-every`` steps SB3's ``EvalCallback`` plays ``--validate-episodes`` greedy episodes on
  validation envs (their own seeds) and the best checkpoint so far is saved beside the model as
  ``<save>_best.pt``; that checkpoint is the one scored (``selected`` in the JSON line).
* ``rstdp-ac``: :class:`agents.RSTDPActorCritic`, the same with a spiking critic and the TD error as the third
  factor; on ALE games a hidden layer of 256 neurons that learns by e-prop with symmetric feedback
  (:data:`ACTOR_CRITIC_ATARI_DEFAULTS`; ``--hidden-size 0``: from the pixels).
* ``ppo``, ``a2c``, ``dqn``: SB3's algorithm with a spiking policy (:mod:`agents.deep`: a spiking Nature-CNN for
  ALE games, a spiking MLP otherwise, ``--time-steps`` simulation steps per env step) and rl-baselines3-zoo's
  hyperparameters (:mod:`agents.deep.zoo`; ``--learning-rate`` replaces the zoo's initial learning rate and keeps
  its schedule); ``--ann`` trains SB3's own non-spiking network (``CnnPolicy``, or
  ``MlpPolicy`` with ReLU) instead, the reference. ALE games use the standard deep-RL preprocessing through SB3's
  wrappers (:mod:`envs.standard_atari`: 84x84 grayscale, 4 stacked frames, frames skipped once, sticky actions;
  life loss ends an episode and rewards are clipped in training only). The last model is scored (no selection)
  and saved as a zip that loads without unpickling. ``--convert --load ANN.zip`` converts a non-spiking model
  (:func:`agents.deep.convert`, calibrated on ``--calibration-steps`` of its own play on separate seeds) and
  scores it at each ``--convert-time-steps`` T beside the source network, on the same episodes; a model saved
  by plain SB3 (pickled fields, e.g. rl-baselines3-zoo's) is rebuilt as SB3's ``CnnPolicy`` with only its
  weights read.

Evaluation: the agent (greedy, ``deterministic=True``), a uniformly random policy and each constant action play
``--eval-episodes`` full games on identically built and seeded evaluation envs (SB3's ``evaluate_policy``; ALE
episodes end after ``--eval-max-frames`` emulator frames, 5 minutes of play). Prints a table with the
human-normalised score of each row where the game has published random and human scores (:mod:`envs.scores`)
and the greedy agent's action histogram, then one JSON line (the last line of stdout)::

    {"env": ..., "algo": ..., "ann": ..., "agent_mean": ..., "agent_std": ..., "random_mean": ..., "random_std": ...,
     "best_constant_mean": ..., "best_constant": {"action", "name", "mean", "std"}, "constant_means": {...},
     "human_normalized": {"agent", "random", "best_constant", "published_random", "published_human"} or null,
     "action_histogram": {action name: count}, "last": {"mean", "std", "action_histogram"} (R-STDP),
     "episodes": ..., "timesteps": ..., "train_seconds": ...,
     "selected": {...} or null, "protocol": {...}, "settings": {...}, "overridden_by_checkpoint": {...}}

The deep agents add ``spiking`` and ``converted``, and with ``--sampled`` ``agent_sampled`` (``{"mean", "std",
"action_histogram"}`` of the policy sampling its actions; ``--convert``: ``source_sampled`` and a ``sampled``
entry per T); ``--convert`` adds ``source_mean``, ``source_std``,
``conversion`` (one ``{"time_steps", "mean", "std", "vs_source", "seconds"}`` per T; ``agent_mean`` is the last
T's), ``percentile`` and ``calibration_observations``.

``protocol`` is :func:`envs.describe_protocol` of the evaluation env (preprocessing, frame skip, sticky actions,
episode limits); ``timesteps`` is the number of env steps the scored agent was trained for (in this run or, with
``--load``, in total); ``selected`` describes the validated R-STDP checkpoint (its ``timesteps``, the run's
``trained_timesteps``, its ``validation_mean``) or is null when no validation ran; ``last`` scores the last
checkpoint on the same episodes either way (the scored agent itself when nothing was selected). ``settings`` are the
hyperparameters of the scored agent, as used; with ``--load``/``--resume`` the checkpoint's settings win over the
agent flags, and ``overridden_by_checkpoint`` lists each agent flag given with another value
(``{"population_size": {"requested": 8, "used": 16}}``; also warned about on stderr).

Training is never lost. Before training, the save path is checked to be writable. Ctrl-C (SIGINT) or SIGTERM
during training lets the current env step finish, saves the agent and prints the ``--resume`` command; the exit
status is 130 for Ctrl-C, 143 for SIGTERM. Any exception during training also saves the agent (as it stands) and
prints the command, then the exception propagates (exit status 1). ``--resume PATH`` loads the agent, rebuilds the
training envs with the saved run's seeds and replays the actions it logged (:meth:`agents.RSTDP.replay_env`, about
as many env steps as were trained, without the network), then trains ``--timesteps`` more steps, saving to PATH
unless ``--save`` says otherwise. So an interrupted run resumed for the remaining steps ends with exactly the
weights of an uninterrupted one, for dummy and subprocess envs alike, when validation is off
(``--validate-every 0``): validation episodes restart on fresh validation envs after a resume, and their greedy
tie-breaking draws from the agent's generator, so with validation on the resumed run trains on the same data but
its random draws differ.

Files of earlier runs are never replaced silently: when the default save path (or its ``_best`` companion) exists,
this run saves under a new name ``<name>-2.pt``, ``-3``, ... and says so; an existing ``--save`` path needs
``--overwrite`` (except the ``--resume`` file itself, which the resumed run continues).

The deep agents resume (``--resume MODEL.zip``) from their saved weights, optimiser and step count on fresh
episodes (not bit-exact). A stopped DQN also saves its replay buffer beside the model (``MODEL.replay.npz``, no
pickle: :mod:`agents.deep.replay_io`; about 5.6 GB for Atari's 100k transitions) and ``--resume`` refills the
buffer from it (without the file it warns and resumes with an empty buffer). The first ``ep_rew_mean`` logged
after a resume averages only the games that ended in the first rollout, the shortest (SB3 keeps no episode
history in its files); it is the same selection as at the start of any run.

Examples::

    python scripts/play.py SpaceInvaders                                  # about 10 minutes on 2 CPU cores
    python scripts/play.py SpaceInvaders --algo ppo --eval-episodes 30    # spiking PPO, about 1 hour
    python scripts/play.py SpaceInvaders --algo ppo --ann --eval-episodes 30            # SB3's PPO, the reference
    python scripts/play.py SpaceInvaders --algo ppo --convert --load runs/SpaceInvaders_ppo_ann_seed0.zip
    python scripts/play.py SpaceInvaders --load runs/SpaceInvaders_seed0_best.pt --video play.mp4
    python scripts/play.py SpaceInvaders --resume runs/SpaceInvaders_seed0.pt --timesteps 200000  # train on
    python scripts/play.py spikerl/Catch-v0 --timesteps 5000 --hidden-size 0
    tensorboard --logdir runs    # one folder per run, named after its checkpoint: runs/SpaceInvaders_seed0_1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from envs.baselines import action_names, baselines, evaluate
from envs.standard_atari import EVAL_MAX_FRAMES
from spikerl.validation import check_device, number_flag

#: Env steps trained by default: about 5 to 10 minutes on the 2-core development CPU for an ALE game with the
#: defaults below (SpaceInvaders, 8 subprocess envs: 271 s of training including 8 validations when alone on the
#: machine, 383 s with another run beside it), plus about a minute of evaluation.
DEFAULT_TIMESTEPS = 400_000

#: Agent settings for ALE games; other envs take the agent's own defaults. The output learns straight from the
#: pixels (no hidden layer): in our runs this learned better than a fixed random hidden projection. Game rewards
#: come several env steps after the shot that earned them, hence the long eligibility trace. 64 input spikes per
#: step (instead of 16) make the score of an action depend less on Poisson noise and more on the frame
#: (SpaceInvaders, seed 0, 400k steps, 30 greedy episodes: 296.7 against 268.8 with 16). See README's results.
ATARI_DEFAULTS: dict[str, Any] = {"hidden_size": 0, "population_size": 16, "steps_per_action": 8,
                                  "input_spikes_per_step": 64.0, "learning_rate": 0.007, "tau_e_ms": 100.0,
                                  "temperature": None, "epsilon": None}

#: Preprocessing for ALE games on top of envs.make's pipeline: 42 x 42 frames (1764 inputs) keep the plastic
#: connection and its eligibility traces small enough for online learning at several hundred steps/s.
ATARI_ENV_KWARGS: dict[str, Any] = {"resize": (42, 42)}

#: Evaluation episodes use the seeds ``seed + EVAL_SEED_OFFSET + i``, away from the training seeds ``seed + i``.
EVAL_SEED_OFFSET = 1000

#: Validation episodes (checkpoint selection during training) use ``seed + VALIDATION_SEED_OFFSET + i``: disjoint
#: from the training and the evaluation seeds, so the reported evaluation never sees the episodes it was chosen on.
VALIDATION_SEED_OFFSET = 500

#: Convertion calibration rollouts use ``seed + CALIBRATION_SEED_OFFSET + i``, apart from training, validation
#: and evaluation seeds.
CALIBRATION_SEED_OFFSET = 2000

#: ``--algo`` choices: the R-STDP agent and SB3's algorithms with spiking policies.
ALGOS = ("rstdp", "rstdp-ac", "ppo", "a2c", "dqn")

#: The local-learning agents (the others are SB3's gradient-trained algorithms).
RSTDP_ALGOS = ("rstdp", "rstdp-ac")

#: ``--convert-time-steps`` default: the T values of the conversion table.
DEFAULT_CONVERT_TIME_STEPS = (8, 16, 32, 64, 128)

#: R-STDP envs of the default: 8 (the deep agents take rl-baselines3-zoo's number).
RSTDP_N_ENVS = 8

#: ALE defaults of ``--algo rstdp-ac`` beyond :data:`ATARI_DEFAULTS`: a shorter eligibility trace for actor and
#: critic, discount 0.95, V read out in units of 2 rewards (untuned: one 10k-step smoke run so far), and the
#: entropy term at 0.03: without it greedy play collapses onto one action (SpaceInvaders, 100k steps: RIGHTFIRE on
#: 100% of the steps); at 0.02 two of four seeds (400k steps, factored e-prop rule) played NOOP on 72-74% of their
#: greedy steps, at 0.03 no action took more than 68.3% on seeds 0-3 and the scores did not fall (mean 177.8
#: against 174.3; README's results). A hidden layer of 256 neurons that learns by reward-based e-prop with
#: symmetric feedback at rate 1e-4: SpaceInvaders, 400k steps, last model, 30 greedy episodes, seeds 0/1/2:
#: 192.8 / 263.0 / 267.7 (mean 241.2), against 217.1 from the pixels, 175.3 with the hidden layer fixed and
#: 163.0 (seed 0) with random feedback at 3e-4 (all at the entropy term of 0.02).
ACTOR_CRITIC_ATARI_DEFAULTS: dict[str, Any] = {**ATARI_DEFAULTS, "hidden_size": 256, "hidden_learning_rate": 1e-4,
                                               "hidden_feedback": "symmetric", "tau_e_ms": 40.0,
                                               "entropy_rate": 0.03, "gamma": 0.95, "critic_population_size": 32,
                                               "critic_learning_rate": None, "critic_tau_e_ms": 40.0,
                                               "value_scale": 2.0, "value_feedback": None, "critic_feedback": None}

#: ALE defaults that describe the hidden layer: dropped (the size set to 0) when the flags choose no hidden layer
#: (``--hidden-size 0`` or ``--feature-maps``).
HIDDEN_LAYER_DEFAULTS = ("hidden_size", "hidden_learning_rate", "hidden_feedback")

#: Flags of the actor-critic's critic (``--algo rstdp-ac`` only).
CRITIC_FLAGS = ("gamma", "critic_population_size", "critic_learning_rate", "critic_tau_e_ms", "value_scale",
                "value_feedback", "critic_feedback")

#: Agent flags that the deep agents (--algo ppo/a2c/dqn) take too: --learning-rate replaces the zoo's initial
#: learning rate (its schedule shape kept, agents.deep.zoo.with_learning_rate).
DEEP_AGENT_FLAGS = ("learning_rate",)

#: flags that set the spiking policy's extractor (a loaded model keeps its own).
SPIKING_POLICY_FLAGS = ("time_steps", "init_gain", "input_gain", "normalization")
#: deep-agent flags that a model loaded by --load/--resume overrides with its own settings (named on stderr).
LOADED_MODEL_FLAGS = (*SPIKING_POLICY_FLAGS, "separate_extractors", "inner_lr_scale")

AGENT_FLAGS = ("hidden_size", "population_size", "steps_per_action", "input_spikes_per_step", "learning_rate",
               "learning_rate_end", "tau_e_ms", "temperature", "epsilon", "entropy_rate", "feature_maps",
               "feature_patch", "feature_stride", "hidden_learning_rate", "hidden_feedback", "hidden_weight_bound")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train an R-STDP spiking agent on a game (any ALE game name such as SpaceInvaders, or any "
                    "id envs.make accepts), evaluate it and a uniformly random policy under the same protocol, "
                    "print a table and one JSON line.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("env", help="ALE game (SpaceInvaders, Pong, ALE/Breakout-v5, ...) or a Gymnasium id "
                                    "such as spikerl/Catch-v0")
    parser.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS,
                        help="env steps to train for, summed over the envs (the default takes about 10 minutes "
                             "on 2 CPU cores for an ALE game)")
    parser.add_argument("--algo", choices=ALGOS, default="rstdp",
                        help="rstdp: the R-STDP agent (agents.RSTDP); rstdp-ac: R-STDP actor with a spiking critic, "
                             "both modulated by the TD error (agents.RSTDPActorCritic); ppo, a2c, dqn: SB3's "
                             "algorithm with a spiking "
                             "policy (agents.deep: spiking Nature-CNN for ALE games, spiking MLP otherwise), "
                             "rl-baselines3-zoo's hyperparameters and, for ALE games, the standard Atari "
                             "preprocessing (envs.standard_atari)")
    parser.add_argument("--ann", action="store_true",
                        help="with --algo ppo/a2c/dqn: train SB3's own non-spiking network (CnnPolicy / MlpPolicy "
                             "with ReLU) under the same protocol, the reference for the spiking agent and the "
                             "source for --convert")
    parser.add_argument("--convert", action="store_true",
                        help="with --algo ppo/a2c/dqn and --load MODEL.zip of a non-spiking model (--ann): convert "
                             "it to a spiking network (agents.deep.convert: IF neurons, reset by subtraction, "
                             "data-based normalisation) at each --convert-time-steps T and evaluate each beside "
                             "the source network, on the same episodes")
    parser.add_argument("--n-envs", type=int, default=None,
                        help="environments simulated as one batch (default: 8 for rstdp, rl-baselines3-zoo's "
                             "number for ppo/a2c/dqn: 8, 16, 1)")
    parser.add_argument("--seed", type=int, default=0,
                        help=f"seed of the agent and of training env i (seed + i); evaluation episodes use "
                             f"seed + {EVAL_SEED_OFFSET} + i")
    parser.add_argument("--vec-env", choices=("auto", "dummy", "subproc"), default="auto",
                        help="training envs in this process (dummy) or one worker process each (subproc); auto: "
                             "subproc for ALE games with several envs (measured about 1.5x faster on SpaceInvaders "
                             "with 8 envs on 2 cores) with --algo rstdp, dummy otherwise")
    parser.add_argument("--terminal-on-life-loss", action="store_true",
                        help="--algo rstdp/rstdp-ac on ALE games: a lost life ends the episode for the learner in "
                             "training (SB3's EpisodicLifeEnv; the actor-critic's TD error then sees no future "
                             "value after a death); evaluation and validation play full games. The deep agents "
                             "always train this way")
    parser.add_argument("--life-loss-penalty", type=number_flag(0), default=None, metavar="P",
                        help="--algo rstdp/rstdp-ac on ALE games: subtract P from the training reward of each step "
                             "that loses a life (envs.wrappers.LifeLossPenalty; before the agent's reward clip); "
                             "scores stay the game's")
    parser.add_argument("--frame-difference", choices=("only", "stack"), default=None,
                        help="--algo rstdp/rstdp-ac on ALE games: the agent sees motion |x_t - x_t-1| instead of "
                             "the frame (only) or beside it (stack: 2 channels); envs.wrappers.FrameDifference, in "
                             "training and evaluation alike (pass it again with --load and --resume)")
    parser.add_argument("--device", default="cpu", help="torch device of the spiking network (cpu, cuda, ...)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1 is fastest for these small per-step tensors on a busy CPU)")
    parser.add_argument("--load", metavar="PATH", default=None,
                        help="load an agent saved by this script (or RSTDP.save) and skip training: just play")
    parser.add_argument("--resume", metavar="PATH", default=None,
                        help="load an agent saved by this script (or RSTDP.save, or left by an interrupted run) and "
                             "train it --timesteps more env steps on fresh training envs, then evaluate")
    parser.add_argument("--save", metavar="PATH", default=None,
                        help="where to save the trained agent (default: the --resume file, else "
                             "runs/<env>_seed<seed>.pt, or runs/<env>_seed<seed>-N.pt when that exists)")
    parser.add_argument("--overwrite", action="store_true",
                        help="let --save (or the default path) replace an existing file and its _best companion")
    parser.add_argument("--no-train", action="store_true",
                        help="skip training: evaluate the agent as it is (freshly initialised, or as loaded)")
    parser.add_argument("--validate-every", type=int, default=50_000, metavar="N",
                        help="every N training env steps, play --validate-episodes greedy episodes on validation "
                             f"envs (seeds seed + {VALIDATION_SEED_OFFSET} + i, SB3's EvalCallback) and keep the best "
                             "checkpoint; the evaluation then scores that checkpoint (0: no validation, score the "
                             "last one)")
    parser.add_argument("--validate-episodes", type=int, default=8, help="episodes per validation")
    parser.add_argument("--eval-episodes", type=int, default=10,
                        help="evaluation episodes for the agent, the random policy and each constant action")
    parser.add_argument("--eval-max-frames", type=number_flag(0, integer=True), default=EVAL_MAX_FRAMES,
                        help="ALE games: evaluation (and validation) episodes end after this many emulator frames "
                             "(5 minutes of play, the cap of the DQN papers; 0: ALE's own limit of 108000)")
    parser.add_argument("--video", metavar="PATH.mp4", default=None,
                        help="record one greedy episode of the agent (the env's rgb_array render, cv2.VideoWriter)")
    parser.add_argument("--render", action="store_true",
                        help="show one greedy episode in a window (cv2.imshow; needs a display; q closes it)")
    parser.add_argument("--tensorboard", metavar="DIR", default="runs",
                        help="TensorBoard log directory (view with: tensorboard --logdir DIR); each run writes to "
                             "DIR/<checkpoint name>_N, and --resume continues the resumed file's folder; '' turns it "
                             "off")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar during training")
    deep = parser.add_argument_group("deep agents", "--algo ppo/a2c/dqn only")
    deep.add_argument("--time-steps", type=number_flag(1, integer=True), default=None,
                      help="simulation steps T of the spiking policy per env step (default: agents.deep's, 2)")
    deep.add_argument("--init-gain", type=number_flag(0, low_open=True), default=None,
                      help="gain of the spiking policy's orthogonal weight initialisation (default: agents.deep's, "
                           "3; more gain, more activity in the first layers)")
    deep.add_argument("--input-gain", type=number_flag(0, low_open=True), default=None,
                      help="the same gain for the first layer only, the one the frame drives (default: "
                           "--init-gain's): more gain lets a few lit pixels (Breakout's ball) reach the threshold")
    deep.add_argument("--normalization", choices=("none", "layer"), default=None,
                      help="what stands between each synaptic layer of the spiking policy and its LIF layer "
                           "(default: agents.deep's, none): 'layer' normalises each sample's input current over "
                           "the layer (learned scale and shift), so every layer's currents keep one spread "
                           "around the threshold")
    deep.add_argument("--separate-extractors", action="store_const", const=True, default=None,
                      help="PPO/A2C: give the actor and the critic a features extractor each (SB3's "
                           "share_features_extractor=False) instead of the shared one of rl-baselines3-zoo's Atari "
                           "settings: the value loss no longer shapes the policy's features (about twice the "
                           "compute); a model loaded with --load/--resume keeps its own architecture")
    deep.add_argument("--inner-lr-scale", type=number_flag(0, low_open=True), default=None,
                      help="PPO/A2C: multiply the learning rate of the spiking policy's inner synaptic layers (all "
                           "but the last: the convolutions of the Nature CNN) by this factor (default 1): under "
                           "Adam their small steps flip spikes downstream; 0.1 did not help Breakout PPO (README)")
    deep.add_argument("--sampled", action="store_true",
                      help="PPO/A2C: also score the policy sampling its actions (as in training; torch seeded with "
                           "--seed) beside the greedy one: greedy play of an actor-critic can collapse onto one "
                           "action")
    deep.add_argument("--convert-time-steps", type=number_flag(1, integer=True), nargs="+",
                      default=list(DEFAULT_CONVERT_TIME_STEPS), metavar="T",
                      help="--convert: simulation steps per env step to evaluate the converted network at")
    deep.add_argument("--percentile", type=number_flag(0, 100, low_open=True), default=99.9,
                      help="--convert: percentile of each layer's ReLU activations taken as its scale")
    deep.add_argument("--calibration-steps", type=number_flag(1, integer=True), default=256,
                      help="--convert: steps of the source model's (sampled) play per env, on envs seeded "
                           f"seed + {CALIBRATION_SEED_OFFSET} + i, whose observations set the scales")
    actor_critic_own = {k: v for k, v in ACTOR_CRITIC_ATARI_DEFAULTS.items()
                        if k in AGENT_FLAGS and ATARI_DEFAULTS.get(k) != v}
    agent = parser.add_argument_group("agent", "R-STDP settings; unset flags take the ALE defaults "
                                               f"{ATARI_DEFAULTS} for ALE games (--algo rstdp-ac: with "
                                               f"{actor_critic_own}; None: the agent's default) and the agent's "
                                               "own defaults for other envs")
    agent.add_argument("--hidden-size", type=number_flag(0, integer=True), default=None,
                       help="LIF neurons in the hidden layer, fixed and random unless --hidden-learning-rate (0: "
                            "pixels connect to the output)")
    agent.add_argument("--hidden-learning-rate", type=number_flag(0), default=None,
                       help="> 0: the hidden layer learns by reward-based e-prop (agents.policy."
                            "SpikingPolicy.learn_hidden), rate in units of its mean initial weight (0: fixed; needs "
                            "--hidden-size)")
    agent.add_argument("--hidden-feedback", choices=("random", "symmetric"), default=None,
                       help="--hidden-learning-rate: the hidden layer's feedback weights, fixed random (random e-prop) "
                            "or the hidden->output weights (symmetric e-prop); default random")
    agent.add_argument("--hidden-weight-bound", type=number_flag(0, low_open=True), default=None,
                       help="--hidden-learning-rate: keep the hidden weights within their initial mean +- this many "
                            "initial standard deviations (default: no bound)")
    agent.add_argument("--population-size", type=number_flag(1, integer=True), default=None,
                       help="output neurons per action")
    agent.add_argument("--steps-per-action", type=number_flag(1, integer=True), default=None,
                       help="simulation steps (ms) per env step")
    agent.add_argument("--input-spikes-per-step", type=number_flag(0, low_open=True), default=None,
                       help="expected input spikes per simulation step, spread over the pixels by intensity")
    agent.add_argument("--learning-rate", type=number_flag(0, low_open=True), default=None,
                       help="MSTDPET learning rate, in units of the initial mean weight; with --algo ppo/a2c/dqn "
                            "(also --ann): the optimiser's initial learning rate instead of rl-baselines3-zoo's, "
                            "with the zoo's schedule (PPO on ALE games: linear decay to 0)")
    agent.add_argument("--learning-rate-end", type=number_flag(0), default=None,
                       help="R-STDP: the readout's learning rate falls linearly from --learning-rate to this over "
                            "the training budget (a --resume continues the line of the run it resumes); default: "
                            "constant")
    agent.add_argument("--tau-e-ms", type=number_flag(0, low_open=True), default=None,
                       help="eligibility trace time constant, ms (a reward k env steps after a pairing sees "
                            "exp(-k * steps_per_action / tau_e_ms) of it)")
    agent.add_argument("--temperature", type=number_flag(0, low_open=True), default=None,
                       help="softmax temperature (spikes) of the exploring policy over the action populations' spike "
                            "counts")
    agent.add_argument("--epsilon", type=number_flag(0, 1), default=None,
                       help="probability per env step of a uniformly random action while training")
    agent.add_argument("--entropy-rate", type=number_flag(0), default=None,
                       help="policy-entropy term of the plastic weights, in units of the weight scale per spike "
                            "(agents.policy.RuleConfig; 0: off): keeps the policy from collapsing onto one action")
    agent.add_argument("--feature-maps", type=number_flag(0, integer=True), default=None,
                       help="feature maps of the reward-free STDP feature layer between the pixels and the actions "
                            "(agents.features; 0: none; replaces the hidden layer, so not with --hidden-size N > 0)")
    agent.add_argument("--feature-patch", type=number_flag(0, integer=True), default=None,
                       help="side (pixels) of each feature's square receptive field (0: the whole frame, one "
                            "competition over it)")
    agent.add_argument("--feature-stride", type=number_flag(1, integer=True), default=None,
                       help="stride (pixels) between the feature layer's receptive fields")
    critic = parser.add_argument_group("critic", "--algo rstdp-ac only; unset flags take "
                                                 f"{ {k: ACTOR_CRITIC_ATARI_DEFAULTS[k] for k in CRITIC_FLAGS} } "
                                                 "for ALE games (None: the agent's default), else the agent's")
    critic.add_argument("--gamma", type=number_flag(0, 1), default=None, help="discount of the TD error")
    critic.add_argument("--critic-population-size", type=number_flag(1, integer=True), default=None,
                        help="critic neurons (V is read from their spike count)")
    critic.add_argument("--critic-learning-rate", type=number_flag(0, low_open=True), default=None,
                        help="the critic's MSTDPET learning rate")
    critic.add_argument("--critic-tau-e-ms", type=number_flag(0, low_open=True), default=None,
                        help="the critic's eligibility time constant, ms")
    critic.add_argument("--value-scale", type=number_flag(0, low_open=True), default=None,
                        help="V per relative change of the critic's spike count, in reward units")
    critic.add_argument("--value-feedback", type=number_flag(0), default=None,
                        help="weight of the critic's term in a plastic hidden layer's learning signal "
                             "(--hidden-learning-rate)")
    critic.add_argument("--critic-feedback", choices=("random", "symmetric"), default=None,
                        help="--hidden-learning-rate: the critic's feedback to the hidden layer, fixed random or "
                             "the hidden->critic weights (agents.actor_critic_policy.ActorCriticSpikingPolicy."
                             "critic_feedback); default random")
    return parser


def agent_flags(algo: str) -> tuple[str, ...]:
    """The agent flags of ``--algo`` (R-STDP's, plus the critic's for rstdp-ac)."""
    return AGENT_FLAGS + (CRITIC_FLAGS if algo == "rstdp-ac" else ())


def ale_defaults(algo: str, no_hidden_layer: bool = False) -> dict[str, Any]:
    """The ALE defaults of ``algo`` ("rstdp" or "rstdp-ac"); with ``no_hidden_layer`` (``--hidden-size 0`` or
    ``--feature-maps``) none of the hidden layer's settings, its size 0."""
    defaults = ACTOR_CRITIC_ATARI_DEFAULTS if algo == "rstdp-ac" else ATARI_DEFAULTS
    if no_hidden_layer:
        return {**{k: v for k, v in defaults.items() if k not in HIDDEN_LAYER_DEFAULTS}, "hidden_size": 0}
    return defaults


def agent_kwargs(args: argparse.Namespace, ale: bool) -> dict[str, Any]:
    """RSTDP (or RSTDPActorCritic) keyword arguments from the agent flags (ALE defaults for ALE games, else the
    agent's defaults)."""
    defaults = ale_defaults(args.algo, no_hidden_layer=args.hidden_size == 0 or bool(args.feature_maps))
    kwargs = {}
    for name in agent_flags(args.algo):
        value = getattr(args, name)
        if value is None and ale:
            value = defaults.get(name)
        if value is not None:
            kwargs[name] = value
    return kwargs


def checkpoint_overrides(args: argparse.Namespace, used: dict[str, Any], path: str | None,
                         flags: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """Agent flags (``flags``, default :func:`agent_flags`) given on the command line that a loaded agent
    (``--load``/``--resume`` ``path``) overrides.

    The checkpoint's settings ``used`` win: each such flag is named on stderr with the value actually used.
    Returns ``{name: {"requested": flag value, "used": checkpoint value}}`` (empty without ``path``).
    """
    if not path:
        return {}
    flags = agent_flags(args.algo) if flags is None else flags
    overridden = {name: {"requested": getattr(args, name), "used": used[name]} for name in flags
                  if getattr(args, name) is not None and getattr(args, name) != used[name]}
    for name, values in overridden.items():
        print(f"warning: --{name.replace('_', '-')} {values['requested']} is ignored: the agent loaded from {path} "
              f"uses {name}={values['used']}", file=sys.stderr, flush=True)
    return overridden


def human_normalized_scores(protocol: dict[str, Any], scores: dict[str, float | None]) -> dict[str, Any] | None:
    """``{label: (score - random) / (human - random)}`` with the published random and human scores of the game
    (:mod:`envs.scores`); ``None`` for a game without them (or a non-ALE env)."""
    from envs.scores import REFERENCE_SCORES, human_normalized

    game = protocol.get("game")
    if game not in REFERENCE_SCORES:
        return None
    random, human = REFERENCE_SCORES[game]
    normalized = {label: None if score is None else round(human_normalized(game, score), 4)
                  for label, score in scores.items()}
    return {**normalized, "published_random": random, "published_human": human}


def print_report(result: dict[str, Any], rows: list[tuple[str, float, float]], eval_seed: int) -> None:
    """The results table (one row per policy, with its human-normalised score where the game has one), then the
    JSON line ``result`` as the last line of stdout."""
    from envs.scores import REFERENCE_SCORES, human_normalized

    game = result["protocol"].get("game")
    print(f"\n{result['env']}: greedy {result['algo_label']} agent vs baselines, {result['episodes']} episodes each "
          f"(eval seeds {eval_seed}..)")
    print(f"{'policy':<34} {'return (mean +- std)':>22} {'human-norm.':>12}")
    for label, mean, std in rows:
        normalized = f"{human_normalized(game, mean):>12.3f}" if game in REFERENCE_SCORES else f"{'-':>12}"
        print(f"{label:<34} {mean:>11.2f} +- {std:>7.2f} {normalized}")
    if result.get("action_histogram"):
        total = sum(result["action_histogram"].values()) or 1
        print("greedy agent's actions: " + ", ".join(f"{name} {100 * n / total:.1f}%"
                                                     for name, n in result["action_histogram"].items()))
    print(f"trained for {result['timesteps']} env steps" + (f" ({result['train_seconds']:.1f} s in this run)"
                                                            if result["train_seconds"] else ""))
    print(f"protocol: {json.dumps(result['protocol'])}")
    result = {key: value for key, value in result.items() if key != "algo_label"}
    print(json.dumps(result), flush=True)


def has_display() -> bool:
    """Whether a window can open: always on macOS/Windows, with DISPLAY or WAYLAND_DISPLAY elsewhere."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def play_episode(model: Any, name: str, seed: int, video: str | None, show: bool, env_kwargs: dict[str, Any],
                 fps: float | None = None) -> tuple[float, int]:
    """One greedy episode on ``envs.make(name, render_mode="rgb_array")``, written to ``video`` and/or shown.

    ``fps``: frames (env steps) per second of the clip and the window; default the env's ``render_fps``.
    Returns the episode's return and length.
    """
    import cv2

    import envs

    env = envs.make(name, render_mode="rgb_array", **env_kwargs)
    fps = float(fps or env.metadata.get("render_fps") or 30)
    obs, _ = env.reset(seed=seed)
    writer, window, total, steps, start, done = None, "spikerl play (q: close)", 0.0, 0, True, False
    try:
        while True:
            frame = cv2.cvtColor(np.ascontiguousarray(env.render()), cv2.COLOR_RGB2BGR)
            if video is not None:
                if writer is None:
                    Path(video).parent.mkdir(parents=True, exist_ok=True)
                    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                             (frame.shape[1], frame.shape[0]))
                    if not writer.isOpened():
                        raise RuntimeError(f"cv2 could not open {video!r} for writing (mp4v codec)")
                writer.write(frame)
            if show:
                cv2.imshow(window, frame)
                if cv2.waitKey(max(1, int(1000 / fps))) & 0xFF == ord("q"):
                    show = False
                    cv2.destroyWindow(window)
            if done:
                return total, steps
            action, _ = model.predict(obs[None], episode_start=np.array([start]), deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action[0]))
            total, steps, start, done = total + float(reward), steps + 1, False, terminated or truncated
    finally:
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
        env.close()


def validation_callback(args: argparse.Namespace, env_id: str, env_kwargs: dict[str, Any], best: Path,
                        trained: int) -> Any:
    """SB3's ``EvalCallback`` that plays ``--validate-episodes`` greedy episodes every ``--validate-every`` env
    steps on validation envs and writes the best checkpoint so far to ``best``, with its validation mean in the
    checkpoint's metadata (None when validation is off or would never run within ``--timesteps``).

    ``trained``: env steps the agent already has (a resumed run): validations stay at the same step counts, and
    a ``best`` left by the run being resumed sets the score to beat. The callback's ``saved_best`` tells whether
    ``best`` holds a checkpoint of this run (or of the run it resumes).
    """
    if not args.validate_every or args.validate_every > args.timesteps:
        return None
    import envs
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

    from spikerl.checkpoint import json_field, read_checkpoint

    class SaveBestAs(BaseCallback):
        """EvalCallback's ``callback_on_new_best``: save the new best model to ``best``."""

        def _on_step(self) -> bool:
            self.model.save(best, metadata={"validation_mean": float(self.parent.best_mean_reward)})
            self.parent.saved_best = True
            return True

    eval_env = envs.make_vec(env_id, n_envs=min(args.n_envs, args.validate_episodes),
                             seed=args.seed + VALIDATION_SEED_OFFSET, **env_kwargs)
    warnings.filterwarnings("ignore", message="Training and eval env are not of the same type")
    callback = EvalCallback(eval_env, callback_on_new_best=SaveBestAs(), n_eval_episodes=args.validate_episodes,
                            eval_freq=max(1, args.validate_every // args.n_envs), deterministic=True, verbose=0)
    callback.n_calls = trained // args.n_envs
    callback.saved_best = False
    if args.resume and best.exists():
        payload = read_checkpoint(best)
        previous = json_field(payload, "metadata", best).get("validation_mean") if "metadata" in payload else None
        if previous is not None:
            callback.best_mean_reward, callback.saved_best = float(previous), True
    return callback


def stop_on_request(stop: Any) -> Any:
    """An SB3 callback that ends ``learn`` after the current env step once ``stop()`` is true."""
    from stable_baselines3.common.callbacks import BaseCallback

    class StopOnRequest(BaseCallback):
        def _on_step(self) -> bool:
            return not stop()

    return StopOnRequest()


def choose_save_path(args: argparse.Namespace, name: str, suffix: str = ".pt") -> Path:
    """Where this run saves: ``--save``, else the ``--resume`` file, else ``runs/<name>_seed<seed><suffix>``, and
    never silently over an earlier run's files (see the module docstring). Exits with a usage error for an
    existing ``--save`` path without ``--overwrite``. ``name`` includes the algorithm for the deep agents."""
    def taken(path: Path) -> bool:
        return path.exists() or best_path(path).exists()

    if args.save:
        save = Path(args.save)
        resumed = args.resume and save.resolve() == Path(args.resume).resolve()
        if taken(save) and not (args.overwrite or resumed):
            build_parser().error(f"--save {save}: {save if save.exists() else best_path(save)} exists (an earlier "
                                 "run's?); pass --overwrite to replace it, or choose another path")
        return save
    if args.resume:
        return Path(args.resume)
    default = Path("runs") / f"{name}_seed{args.seed}{suffix}"
    save, n = default, 1
    while taken(save) and not args.overwrite:
        n += 1
        save = default.with_name(f"{default.stem}-{n}{default.suffix}")
    if save != default:
        print(f"{default} exists (an earlier run's); saving this run to {save} (--overwrite reuses the name)",
              file=sys.stderr, flush=True)
    return save


def tensorboard_run_name(args: argparse.Namespace, save: Path) -> str:
    """The TensorBoard run name of this training: the checkpoint's file name without its suffix. SB3 writes to
    ``DIR/<name>_N``, a new N for a fresh run; ``--resume`` continues the newest ``<name>_N`` of the resumed
    file, so a resumed run's curves join its own folder, not the newest run of the same game (as they did when
    every run of a game and algorithm shared one name)."""
    return Path(args.resume).stem if args.resume else save.stem


def best_path(save: Path) -> Path:
    """The best validated checkpoint's path beside ``save``: ``<stem>_best<suffix>``."""
    return save.with_name(f"{save.stem}_best{save.suffix}")


def interrupted(model: Any, save: Path, env: str, target: int, why: str, algo_flags: str = "",
                save_model: Any = None) -> None:
    """Save the agent (``save_model(model, save)``, default ``model.save``) and print how to continue: the
    ``--resume`` command with the steps still to train."""
    (save_model or (lambda m, path: m.save(path)))(model, save)
    remaining = max(target - int(model.num_timesteps), 0)
    print(f"\n{why} after {model.num_timesteps} env steps; saved the agent to {save}; continue with --resume "
          f"{save}\n  python scripts/play.py {env}{algo_flags} --resume {save} --timesteps {remaining}   "
          "(add the flags of the interrupted run)", file=sys.stderr, flush=True)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def check_algo_flags(args: argparse.Namespace) -> None:
    """Usage errors for flags that do not apply to ``--algo`` (or to each other)."""
    error = build_parser().error
    deep_only = {"ann": args.ann, "convert": args.convert, "time_steps": args.time_steps is not None,
                 "init_gain": args.init_gain is not None, "input_gain": args.input_gain is not None,
                 "normalization": args.normalization is not None,
                 "sampled": args.sampled,
                 "separate_extractors": args.separate_extractors,
                 "inner_lr_scale": args.inner_lr_scale is not None}
    if args.algo != "rstdp-ac":
        for flag in CRITIC_FLAGS:
            if getattr(args, flag) is not None:
                error(f"--{flag.replace('_', '-')} is a critic setting: it applies to --algo rstdp-ac")
    if args.algo in RSTDP_ALGOS:
        for flag, given in deep_only.items():
            if given:
                error(f"--{flag.replace('_', '-')} applies to the deep agents: add --algo ppo, a2c or dqn")
        if args.feature_maps and args.hidden_size:
            error(f"--feature-maps {args.feature_maps} and --hidden-size {args.hidden_size}: choose the learned "
                  "feature layer or the fixed random hidden layer, not both")
        return
    if args.terminal_on_life_loss:
        error(f"--terminal-on-life-loss applies to --algo rstdp and rstdp-ac: --algo {args.algo} always trains "
              "with it on ALE games (envs.standard_atari)")
    for flag in ("life_loss_penalty", "frame_difference"):
        if getattr(args, flag):
            error(f"--{flag.replace('_', '-')} applies to --algo rstdp and rstdp-ac")
    for flag in AGENT_FLAGS:
        if flag not in DEEP_AGENT_FLAGS and getattr(args, flag) is not None:
            error(f"--{flag.replace('_', '-')} is an R-STDP setting; --algo {args.algo} takes rl-baselines3-zoo's "
                  "hyperparameters")
    if args.learning_rate is not None and (args.load or args.resume or args.convert):
        error(f"--learning-rate sets the initial learning rate of a new --algo {args.algo} model; a loaded one "
              "(--load, --resume, --convert) keeps the schedule saved with it")
    if args.separate_extractors and (args.algo == "dqn" or args.convert):
        error("--separate-extractors gives a PPO or A2C model its own critic network"
              + (": DQN has no critic" if args.algo == "dqn" else "; --convert keeps the source's architecture"))
    if args.inner_lr_scale is not None and (args.algo == "dqn" or args.ann or args.convert):
        error("--inner-lr-scale sets the optimizer of a spiking PPO or A2C model"
              + (": not --algo dqn" if args.algo == "dqn" else ": not --ann" if args.ann else ": not --convert"))
    if args.convert and not args.load:
        error("--convert needs --load MODEL.zip: a non-spiking model trained with --ann (or saved with "
              "agents.deep.safe_zip.safe_save)")
    if args.convert and args.time_steps is not None:
        error("--convert evaluates at each --convert-time-steps T; --time-steps is the spiking policy's T")
    for flag in SPIKING_POLICY_FLAGS:
        if getattr(args, flag) is not None and (args.ann or args.convert):
            mode = "--ann trains a non-spiking network" if args.ann else "--convert sets the converted network"
            error(f"{mode}: --{flag.replace('_', '-')} applies to a spiking policy trained by --algo {args.algo}")


def restore_replay_buffer(model: Any, resume: str) -> None:
    """``--resume`` of a DQN: refill its replay buffer from the file saved beside ``resume`` when it stopped
    (:mod:`agents.deep.replay_io`), or warn that it resumes with an empty one."""
    from agents.deep.replay_io import ReplayBufferFileError, load_replay_buffer, replay_buffer_path

    path = replay_buffer_path(resume)
    if not path.is_file():
        print(f"warning: no replay buffer {path} beside {resume}: the DQN resumes with an empty buffer (it learns "
              "from its first transitions at once)", file=sys.stderr, flush=True)
        return
    try:
        rows = load_replay_buffer(model.replay_buffer, path)
    except ReplayBufferFileError as error:
        build_parser().error(f"--resume: {error}")
    print(f"restored {rows} transitions per env from {path}", file=sys.stderr, flush=True)


def spiking_extractor(model: Any) -> Any:
    """The spiking features extractor of an SB3 model's policy, or ``None`` for a non-spiking policy."""
    from agents.deep import SpikingFeaturesExtractor

    return next((m for m in model.policy.modules() if isinstance(m, SpikingFeaturesExtractor)), None)


def run_deep(args: argparse.Namespace, env_id: str, ale: bool) -> dict[str, Any]:
    """``--algo ppo/a2c/dqn``: train (or load) a spiking SB3 agent, or SB3's own with ``--ann``, or convert a
    loaded non-spiking one (``--convert``); evaluate it beside the random policy and every constant action;
    print the table and the JSON line. See the module docstring."""
    import torch

    torch.set_num_threads(args.threads)
    from stable_baselines3 import A2C, DQN, PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    import envs
    from agents.deep import SpikingA2C, SpikingDQN, SpikingPPO, convert, rollout_observations
    from agents.deep.extractors import DEFAULT_TIME_STEPS
    from agents.deep.replay_io import replay_buffer_path, save_replay_buffer
    from agents.deep.safe_zip import UnsafeModelError, read_policy_weights, safe_save
    from agents.deep.zoo import (ZOO_N_ENVS, describe_hyperparameters, with_learning_rate, zoo_hyperparameters,
                                  zoo_kind)
    from envs.standard_atari import make_standard_atari
    from spikerl.checkpoint import CheckpointWriteError, check_writable
    from spikerl.stopping import run_guarded

    sb3_cls, spiking_cls = {"ppo": (PPO, SpikingPPO), "a2c": (A2C, SpikingA2C), "dqn": (DQN, SpikingDQN)}[args.algo]
    n_envs = args.n_envs or ZOO_N_ENVS[args.algo][zoo_kind(env_id, ale)]
    vec_env_cls = SubprocVecEnv if args.vec_env == "subproc" and n_envs > 1 else DummyVecEnv
    tensorboard = args.tensorboard or None
    label = f"{args.algo}{'_ann' if args.ann else ''}"
    name = f"{slug(args.env)}_{label}"
    max_frames = args.eval_max_frames or None

    def make_env(n: int, seed: int, training: bool) -> Any:
        if ale:
            return make_standard_atari(env_id, n, seed, training, vec_env_cls if training else DummyVecEnv,
                                       max_frames=max_frames)
        return envs.make_vec(env_id, n_envs=n, seed=seed, vec_env_cls=vec_env_cls if training else DummyVecEnv)

    def load(path: str, env: Any = None) -> Any:
        try:
            return spiking_cls.load(path, env=env, device=args.device, tensorboard_log=tensorboard)
        except UnsafeModelError as error:
            if not (args.convert and ale):
                build_parser().error(f"{path}: {error}")
            return load_plain_sb3(path)
        except (ValueError, KeyError, RuntimeError) as error:
            build_parser().error(f"{path}: not a {args.algo.upper()} model this script can load ({error})")

    def load_plain_sb3(path: str) -> Any:
        """A model saved by plain SB3 with pickled fields (e.g. rl-baselines3-zoo's), for --convert on an ALE
        game: SB3's CnnPolicy built for the standard Atari env, with only the file's weights loaded into it."""
        weights, steps = read_policy_weights(path)
        env = make_env(1, args.seed, training=False)
        model = sb3_cls("CnnPolicy", env, device=args.device, **zoo_hyperparameters(args.algo, env_id, ale))
        try:
            model.policy.load_state_dict(weights)
        except RuntimeError as error:
            build_parser().error(f"{path}: its weights do not fit SB3's {args.algo.upper()} CnnPolicy on {env_id} "
                                 f"with the standard Atari preprocessing ({str(error).splitlines()[0]})")
        model.num_timesteps = steps
        env.close()
        print(f"{path} was saved by plain SB3 (pickled fields): built SB3's CnnPolicy for {env_id} and loaded only "
              "its weights (policy.pth, weights_only=True); nothing was unpickled", file=sys.stderr, flush=True)
        return model

    train = not (args.no_train or args.load) and args.timesteps > 0
    save = None
    if train:
        save = choose_save_path(args, name, ".zip")
        if save.suffix != ".zip":
            save = save.with_name(save.name + ".zip")  # SB3 appends it anyway
        try:
            check_writable(save)
        except CheckpointWriteError as error:
            raise SystemExit(f"error: {error.strerror}; nothing trained") from None

    hyperparameters: dict[str, Any] = {}
    if args.load:
        model = load(args.load)
    else:
        train_env = make_env(n_envs, args.seed, training=True)
        if args.resume:
            model = load(args.resume, env=train_env)
            if args.algo == "dqn":
                restore_replay_buffer(model, args.resume)
        else:
            hyperparameters = zoo_hyperparameters(args.algo, env_id, ale)
            if args.learning_rate is not None:
                hyperparameters = with_learning_rate(hyperparameters, args.learning_rate)
            kind = "Cnn" if len(train_env.observation_space.shape) == 3 else "Mlp"
            policy_kwargs = dict(hyperparameters.pop("policy_kwargs", {}))
            if args.separate_extractors:
                policy_kwargs["share_features_extractor"] = False
            if args.ann:
                cls, policy = sb3_cls, f"{kind}Policy"
                if kind == "Mlp":
                    policy_kwargs["activation_fn"] = torch.nn.ReLU  # convertible (PPO/A2C default to Tanh)
            else:
                cls, policy = spiking_cls, f"Spiking{kind}Policy"
                extractor_kwargs: dict[str, Any] = {"time_steps": args.time_steps or DEFAULT_TIME_STEPS}
                for flag in ("init_gain", "input_gain", "normalization"):
                    if getattr(args, flag) is not None:
                        extractor_kwargs[flag] = getattr(args, flag)
                policy_kwargs["features_extractor_kwargs"] = extractor_kwargs
                if args.inner_lr_scale is not None:
                    policy_kwargs["inner_lr_scale"] = args.inner_lr_scale
            model = cls(policy, train_env, seed=args.seed, device=args.device, tensorboard_log=tensorboard,
                        policy_kwargs=policy_kwargs, **hyperparameters)
            hyperparameters = {**hyperparameters, "policy": policy, "policy_kwargs": policy_kwargs,
                               "n_envs": n_envs}
    extractor = spiking_extractor(model)
    spiking = extractor is not None
    if args.convert and spiking:
        build_parser().error(f"--convert: {args.load} is already a spiking model (convert a model trained with --ann)")

    train_seconds = 0.0
    if train:
        print(f"training {'SB3' if args.ann else 'spiking'} {args.algo.upper()} on {env_id} for {args.timesteps} "
              f"steps ({n_envs} envs, seed {args.seed})"
              + (f", resuming {args.resume} after {model.num_timesteps} steps" if args.resume else ""),
              file=sys.stderr, flush=True)
        target = (model.num_timesteps if args.resume else 0) + args.timesteps
        flags = f" --algo {args.algo}" + (" --ann" if args.ann else "")

        def train_agent(stop: Any) -> None:
            model.learn(args.timesteps, callback=stop_on_request(stop), progress_bar=not args.no_progress,
                        tb_log_name=tensorboard_run_name(args, save), reset_num_timesteps=not args.resume)

        def save_for_resume(model: Any, path: Path) -> None:
            safe_save(model, path)
            if args.algo == "dqn":
                buffer_path = replay_buffer_path(path)
                save_replay_buffer(model.replay_buffer, buffer_path)
                print(f"saved the replay buffer to {buffer_path}", file=sys.stderr, flush=True)

        start = time.perf_counter()
        run_guarded(train_agent, lambda why: interrupted(model, save, args.env, target, why, flags, save_for_resume))
        train_seconds = time.perf_counter() - start
        safe_save(model, save)
        print(f"saved the agent to {save}", file=sys.stderr, flush=True)
    if model.get_env() is not None:
        model.get_env().close()

    n_eval_envs = min(n_envs if args.n_envs else 8, args.eval_episodes)
    eval_seed = args.seed + EVAL_SEED_OFFSET

    def make_eval_env() -> Any:
        return make_env(n_eval_envs, eval_seed, training=False)

    probe = make_eval_env()
    protocol = envs.describe_protocol(probe)
    if ale:
        protocol.update(frame_stack=4, noop_max=30, terminal_on_life_loss=False, clip_reward=False,
                        training={"terminal_on_life_loss": True, "clip_reward": True})
    names = action_names(probe)
    probe.close()
    rows: list[tuple[str, float, float]] = []
    conversion = None
    histogram = np.zeros(len(names), dtype=np.int64)
    env = make_eval_env()
    source_mean, source_std = evaluate(model, env, args.eval_episodes, None if args.convert else histogram)
    env.close()
    sampled = args.sampled and args.algo != "dqn"

    def evaluate_sampled(policy: Any) -> dict[str, Any]:
        """The policy sampling its actions, on the same evaluation episodes: mean, std, action histogram."""
        torch.manual_seed(args.seed)
        counts, env = np.zeros(len(names), dtype=np.int64), make_eval_env()
        mean, std = evaluate(policy, env, args.eval_episodes, counts, deterministic=False)
        env.close()
        return {"mean": mean, "std": std, "action_histogram": dict(zip(names, counts.tolist()))}
    if args.convert:
        calibration_env = make_env(n_eval_envs, args.seed + CALIBRATION_SEED_OFFSET, training=False)
        observations = rollout_observations(model, calibration_env, args.calibration_steps)
        calibration_env.close()
        rows.append((f"source ANN {args.algo.upper()}", source_mean, source_std))
        conversion = []
        for steps in args.convert_time_steps:
            converted = convert(model, observations, time_steps=steps, percentile=args.percentile)
            env = make_eval_env()
            histogram[:] = 0
            start = time.perf_counter()
            mean, std = evaluate(converted, env, args.eval_episodes, histogram)
            env.close()
            conversion.append({"time_steps": steps, "mean": mean, "std": std,
                               "vs_source": mean / source_mean if source_mean else None,
                               "seconds": round(time.perf_counter() - start, 1)})
            rows.append((f"converted SNN, T = {steps}", mean, std))
            if sampled:
                conversion[-1]["sampled"] = evaluate_sampled(converted)
                rows.append((f"converted SNN, T = {steps} (sampled)", conversion[-1]["sampled"]["mean"],
                             conversion[-1]["sampled"]["std"]))
            print(f"converted at T = {steps}: {mean:.2f} +- {std:.2f} (source {source_mean:.2f})", file=sys.stderr,
                  flush=True)
        agent_mean, agent_std = conversion[-1]["mean"], conversion[-1]["std"]
        agent_label = f"converted {args.algo.upper()}"
    else:
        agent_mean, agent_std = source_mean, source_std
        agent_label = f"{'spiking' if spiking else 'SB3'} {args.algo.upper()}"
        rows.append((agent_label, agent_mean, agent_std))
    source_sampled = evaluate_sampled(model) if sampled else None
    if source_sampled is not None:
        label = f"source ANN {args.algo.upper()}" if args.convert else agent_label
        rows.insert(1 if args.convert else len(rows), (f"{label} (sampled)", source_sampled["mean"],
                                                         source_sampled["std"]))
    base = baselines(make_eval_env, args.eval_episodes, eval_seed)

    if args.video:
        print("--video: recording is available for --algo rstdp only", file=sys.stderr, flush=True)
    settings = describe_hyperparameters(hyperparameters) if hyperparameters else {}
    if hasattr(model.policy, "share_features_extractor"):  # PPO/A2C
        settings["separate_extractors"] = not model.policy.share_features_extractor
    if spiking:
        settings["time_steps"] = int(extractor.time_steps)
        settings["init_gain"] = float(extractor.init_gain)
        settings["input_gain"] = float(extractor.input_gain)
        settings["normalization"] = extractor.normalization
        if hasattr(model.policy, "inner_lr_scale"):
            settings["inner_lr_scale"] = float(model.policy.inner_lr_scale)
    overridden = checkpoint_overrides(args, settings, None if args.convert else args.load or args.resume,
                                      tuple(flag for flag in LOADED_MODEL_FLAGS if flag in settings))
    scores = {"agent": agent_mean, "random": base["random"][0], "best_constant": best_constant_mean(base)}
    if args.convert:
        scores["source"] = source_mean
    result = {"env": env_id, "algo": args.algo, "ann": not spiking and not args.convert, "spiking": spiking,
              "converted": bool(args.convert), "agent_mean": agent_mean, "agent_std": agent_std,
              **baseline_fields(base), "episodes": args.eval_episodes,
              "human_normalized": human_normalized_scores(protocol, scores),
              "action_histogram": dict(zip(names, histogram.tolist())),
              "timesteps": int(model.num_timesteps), "train_seconds": round(train_seconds, 2), "selected": None,
              "protocol": protocol, "settings": settings, "overridden_by_checkpoint": overridden,
              "algo_label": agent_label}
    if sampled:
        result["source_sampled" if args.convert else "agent_sampled"] = source_sampled
    if args.convert:
        result.update(source_mean=source_mean, source_std=source_std, conversion=conversion,
                      percentile=args.percentile, calibration_observations=int(len(observations)))
    print_report(result, [*rows, *baseline_rows(base)], eval_seed)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    for flag in ("timesteps", "validate_every", "n_envs", "eval_episodes", "validate_episodes", "threads"):
        minimum = 0 if flag in ("timesteps", "validate_every") else 1
        if getattr(args, flag) is not None and getattr(args, flag) < minimum:
            build_parser().error(f"--{flag.replace('_', '-')} must be >= {minimum}")
    check_algo_flags(args)
    for flag in ("load", "resume"):
        if getattr(args, flag) and not Path(getattr(args, flag)).is_file():
            build_parser().error(f"--{flag}: no such file {getattr(args, flag)!r}")
    if args.load and args.resume:
        build_parser().error("--load (just play) and --resume (train on) exclude each other")
    try:
        check_device(args.device)
    except ValueError as error:
        build_parser().error(f"--device: {error}")
    warnings.filterwarnings("ignore", message="rich is experimental")
    import torch

    torch.set_num_threads(args.threads)

    import envs
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from agents import RSTDP, RSTDPActorCritic
    from spikerl.checkpoint import CheckpointWriteError, check_writable
    from spikerl.stopping import run_guarded

    try:
        env_id = envs.resolve_id(args.env)
    except ValueError as error:
        build_parser().error(str(error))
    ale = envs.is_ale_id(env_id)
    if args.algo not in RSTDP_ALGOS:
        return run_deep(args, env_id, ale)
    kwargs = agent_kwargs(args, ale)
    if args.hidden_learning_rate and not kwargs.get("hidden_size"):
        build_parser().error(f"--hidden-learning-rate {args.hidden_learning_rate} trains the hidden layer: add "
                             "--hidden-size N (N > 0)")
    if args.hidden_weight_bound and not kwargs.get("hidden_learning_rate"):
        build_parser().error(f"--hidden-weight-bound {args.hidden_weight_bound} bounds a learning hidden layer: add "
                             "--hidden-size N --hidden-learning-rate R")
    for flag in ("terminal_on_life_loss", "life_loss_penalty", "frame_difference"):
        if getattr(args, flag) and not ale:
            lives = " (one with lives)" if "life" in flag else ""
            build_parser().error(f"--{flag.replace('_', '-')} needs an ALE game{lives}, got {env_id}")
    agent_cls = RSTDPActorCritic if args.algo == "rstdp-ac" else RSTDP
    label = "R-STDP actor-critic" if args.algo == "rstdp-ac" else "R-STDP"
    args.n_envs = args.n_envs or RSTDP_N_ENVS
    env_kwargs = ATARI_ENV_KWARGS if ale else {}
    if args.frame_difference:
        env_kwargs = {**env_kwargs, "frame_difference": True, "include_frame": args.frame_difference == "stack"}
    name = slug(args.env) + ("_rstdp-ac" if args.algo == "rstdp-ac" else "")
    tensorboard = args.tensorboard or None
    train = not (args.no_train or args.load)
    save = None
    if train and args.timesteps > 0:
        save = choose_save_path(args, name)
        try:
            check_writable(save)
        except CheckpointWriteError as error:
            raise SystemExit(f"error: {error.strerror}; nothing trained") from None

    if args.load:
        try:
            model = agent_cls.load(args.load, device=args.device, tensorboard_log=tensorboard)
        except ValueError as error:
            build_parser().error(f"--load {args.load}: {error}")
    else:
        subproc = train and (args.vec_env == "subproc" or (args.vec_env == "auto" and ale and args.n_envs > 1))
        train_env = envs.make_vec(env_id, n_envs=args.n_envs, seed=args.seed,
                                  vec_env_cls=SubprocVecEnv if subproc else DummyVecEnv,
                                  terminal_on_life_loss=args.terminal_on_life_loss,
                                  life_loss_penalty=args.life_loss_penalty or 0.0, **env_kwargs)
        if args.resume:
            try:
                model = agent_cls.load(args.resume, env=train_env, device=args.device, tensorboard_log=tensorboard)
            except ValueError as error:
                train_env.close()
                build_parser().error(f"--resume {args.resume}: {error}")
        else:
            model = agent_cls(agent_cls.policy_name, train_env, seed=args.seed, device=args.device,
                          tensorboard_log=tensorboard, **kwargs)
    overridden = checkpoint_overrides(args, model.hyperparameters(), args.load or args.resume)
    train_seconds, selected, last_model = 0.0, None, None
    if train and args.timesteps > 0:
        if args.resume:
            try:
                replayed = model.replay_env()
                print(f"replayed {replayed} logged env steps: the training envs stand where the saved run left "
                      "them", file=sys.stderr, flush=True)
            except ValueError as error:
                print(f"note: cannot continue the saved run's episodes exactly ({error}); training goes on from "
                      "fresh episodes", file=sys.stderr, flush=True)
        print(f"training {label} on {env_id} for {args.timesteps} steps ({args.n_envs} envs, seed {args.seed})"
              + (f", resuming {args.resume} after {model.num_timesteps} steps" if args.resume else ""),
              file=sys.stderr, flush=True)
        best = best_path(save)
        target = (model.num_timesteps if args.resume else 0) + args.timesteps
        validation = validation_callback(args, env_id, eval_env_kwargs(args, env_kwargs, ale), best,
                                         model.num_timesteps if args.resume else 0)

        def train_agent(stop: Any) -> None:
            model.learn(args.timesteps, callback=[c for c in (validation, stop_on_request(stop)) if c],
                        progress_bar=not args.no_progress, tb_log_name=tensorboard_run_name(args, save),
                        reset_num_timesteps=not args.resume)

        start = time.perf_counter()
        flags = "" if args.algo == "rstdp" else f" --algo {args.algo}"
        run_guarded(train_agent, lambda why: interrupted(model, save, args.env, target, why, flags))
        train_seconds = time.perf_counter() - start
        model.save(save)
        print(f"saved the agent to {save}", file=sys.stderr, flush=True)
        if validation is not None:
            validation.eval_env.close()
            if validation.saved_best:
                trained = model.num_timesteps
                model.get_env().close()
                last_model = model
                model = agent_cls.load(best, device=args.device, tensorboard_log=tensorboard)
                selected = {"timesteps": int(model.num_timesteps), "trained_timesteps": int(trained),
                            "validation_mean": float(validation.best_mean_reward),
                            "validation_episodes": args.validate_episodes, "every": args.validate_every}
                print(f"scoring the best validated checkpoint {best} (after {model.num_timesteps} steps, "
                      f"validation mean {validation.best_mean_reward:.2f})", file=sys.stderr, flush=True)
    if model.get_env() is not None:
        model.get_env().close()

    n_eval_envs = min(args.n_envs, args.eval_episodes)
    eval_seed = args.seed + EVAL_SEED_OFFSET
    eval_kwargs = eval_env_kwargs(args, env_kwargs, ale)

    def make_eval_env() -> Any:
        return envs.make_vec(env_id, n_envs=n_eval_envs, seed=eval_seed, **eval_kwargs)

    agent_env = make_eval_env()
    if model.observation_space != agent_env.observation_space or model.action_space != agent_env.action_space:
        raise SystemExit(f"the agent's spaces {model.observation_space}, {model.action_space} differ from "
                         f"{env_id}'s {agent_env.observation_space}, {agent_env.action_space}")
    protocol = envs.describe_protocol(agent_env)
    if train and ale:
        protocol["training"] = {"terminal_on_life_loss": args.terminal_on_life_loss,
                                "life_loss_penalty": args.life_loss_penalty or 0.0}
    names = action_names(agent_env)
    histogram = np.zeros(len(names), dtype=np.int64)
    agent_mean, agent_std = evaluate(model, agent_env, args.eval_episodes, histogram)
    agent_env.close()
    rows = [(label + (" (selected)" if selected else ""), agent_mean, agent_std)]
    last = {"mean": agent_mean, "std": agent_std, "action_histogram": dict(zip(names, histogram.tolist()))}
    if last_model is not None:  # validation picked another checkpoint: the last one is scored too
        last_env, last_histogram = make_eval_env(), np.zeros(len(names), dtype=np.int64)
        mean, std = evaluate(last_model, last_env, args.eval_episodes, last_histogram)
        last_env.close()
        last = {"mean": mean, "std": std, "action_histogram": dict(zip(names, last_histogram.tolist()))}
        rows.append((f"{label} (last checkpoint)", mean, std))
    base = baselines(make_eval_env, args.eval_episodes, eval_seed)

    if args.render and not has_display():
        print("--render: no display found (DISPLAY/WAYLAND_DISPLAY unset), so no window can open; "
              "use --video PATH.mp4 to record the episode instead", file=sys.stderr, flush=True)
    show = args.render and has_display()
    if args.video or show:
        # real time for ALE games: the console runs at 60 frames/s, the agent sees one of frames_per_step
        fps = 60.0 / protocol["frames_per_step"] if ale and protocol.get("frames_per_step") else None
        ret, length = play_episode(model, env_id, eval_seed, args.video, show, eval_kwargs, fps)
        if args.video:
            print(f"recorded one greedy episode (return {ret:g}, {length} steps) to {args.video}",
                  file=sys.stderr, flush=True)

    result = {"env": env_id, "algo": args.algo, "ann": False, "agent_mean": agent_mean, "agent_std": agent_std,
              **baseline_fields(base), "episodes": args.eval_episodes,
              "human_normalized": human_normalized_scores(protocol, {"agent": agent_mean,
                                                                    "random": base["random"][0],
                                                                    "best_constant": best_constant_mean(base)}),
              "action_histogram": dict(zip(names, histogram.tolist())), "last": last,
              "timesteps": int(model.num_timesteps), "train_seconds": round(train_seconds, 2), "selected": selected,
              "protocol": protocol, "settings": model.hyperparameters(), "overridden_by_checkpoint": overridden,
              "algo_label": label}
    print_report(result, [*rows, *baseline_rows(base)], eval_seed)
    return result


def eval_env_kwargs(args: argparse.Namespace, env_kwargs: dict[str, Any], ale: bool) -> dict[str, Any]:
    """Env keyword arguments of the evaluation and validation envs: the training envs' plus, for ALE games, the
    ``--eval-max-frames`` cap."""
    if ale and args.eval_max_frames:
        return {**env_kwargs, "max_num_frames_per_episode": args.eval_max_frames}
    return dict(env_kwargs)


def best_constant_mean(base: dict[str, Any]) -> float | None:
    return None if base["best_constant"] is None else base["best_constant"]["mean"]


def baseline_fields(base: dict[str, Any]) -> dict[str, Any]:
    """The JSON fields of :func:`baselines`' results."""
    return {"random_mean": base["random"][0], "random_std": base["random"][1],
            "best_constant_mean": best_constant_mean(base), "best_constant": base["best_constant"],
            "constant_means": {name: mean for name, (mean, _) in base["constant"].items()}}


def baseline_rows(base: dict[str, Any]) -> list[tuple[str, float, float]]:
    """Table rows of :func:`baselines`' results: random, then the best constant action."""
    rows = [("random", *base["random"])]
    if base["best_constant"] is not None:
        best = base["best_constant"]
        rows.append((f"constant {best['name']} (best)", best["mean"], best["std"]))
    return rows


if __name__ == "__main__":
    main()
