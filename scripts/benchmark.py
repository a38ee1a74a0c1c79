#!/usr/bin/env python
"""Benchmarks of spikerl, with the reference implementations measured in the same invocation.

Workloads (one subcommand each; every run prints one JSON line):

  agent  environment steps per second of the R-STDP agent (``--algo rstdp``) or actor-critic (``rstdp-ac``)
         learning on a VecEnv, and of the same VecEnv driven by random actions, timed alternately
         (``--repeats`` times each; ``agent_vs_raw``, the ratio of the medians).
  dc     the Diehl & Cook (2015) network on random images: seconds per sample of training (online at batch 1,
         batched otherwise) and of inference, encoding included; the reference is BindsNET's DiehlAndCook2015.
  eligibility  milliseconds per environment step of an MSTDPET rule's work on a sparse input (``--inputs`` x
         ``--targets`` weights, ``--batch`` envs, ``--steps`` simulation steps of ``--spikes`` input spikes each per
         env, a postsynaptic factor per step, then one reward): ``accumulate`` and ``reward_update`` of
         ``MSTDPET`` against ``FactoredMSTDPET`` on the same trains, alternated (``--repeats`` times each);
         ``factored_vs_dense``, the ratio of the median totals. Defaults: the e-prop hidden layer of
         ``play.py --algo rstdp-ac`` (42 x 42 inputs, 256 hidden, 8 envs, 8 steps of 64 spikes).
  gpu    the same three workloads on two devices in one run (``--devices``, default ``cpu cuda``), one after
         the other: ``lif`` (seconds of ``net.run`` over ``--steps``; with ``--compiled`` also the LIF layer's
         ``"compiled"`` backend on the second device), ``agent`` (seconds per env step of the RSTDP agent
         learning on ``--env``; with ``--compiled`` also ``policy.use_backend("compiled")``) and ``dc`` (seconds
         per sample of Diehl & Cook batched training; with ``--compiled`` also its recurrent pair's step loop
         compiled, ``group_backend="compiled"``); each part
         reports the first device's figures (``reference``), the second's (``device``) and ``speedup``
         (reference seconds / device seconds). CUDA timings end
         with ``torch.cuda.synchronize()``. Without CUDA it exits with a message (status 1).
  deep   training env steps per second of spiking PPO/A2C/DQN (agents.deep, spiking Nature CNN for images,
         spiking MLP for vectors) and of SB3's own algorithm with its CnnPolicy/MlpPolicy, same env,
         hyperparameters and seed, one after the other (``spiking_vs_sb3``). ALE games use SB3's Atari
         pipeline (``make_atari_env``: 84 x 84 grayscale, 4 frames skipped) with 4 stacked frames. Both models
         on ``--device`` (default ``auto``: CUDA where there is one); ``devices`` in the JSON line says which.
  lif    N Poisson inputs (15 Hz) all-to-all to N LIF neurons (BindsNET's ``LIFNodes`` defaults = spikerl's
         ``LIF``), weights U(0, 1), dt 1 ms: Input -> Dense -> LIF in a ``spikerl.Network``.
         ``seconds`` is the wall time of ``net.run`` only (median of ``--repeats``, after a warm-up run);
         Poisson encoding is timed separately (``encode_seconds``).
  soak   the RSTDP agent (scripts/play.py's settings for the env) trained for a long run, sampled every
         ``--interval`` env steps: resident memory, weight statistics, finiteness, speed (a table on stderr).
         The verdict ``passed`` (memory flat within ``--max-growth`` after the warm-up, weights and eligibility
         finite) is also the exit status: 1 when it fails.

With ``--reference`` the same workload also runs in the reference implementations (BindsNET, Brian2's C++
standalone mode), each in a subprocess of the reference virtual environment (``--ref-python`` or
``$SPIKERL_REF_PYTHON``, default /tmp/spikerl-ref-venv/bin/python) with the scripts of ``--ref-bench`` (or
``$SPIKERL_REF_BENCH``, default ../shared/reference-bench from the repository root), and the JSON line adds
their results and the ratios ``speedup_vs_bindsnet`` (BindsNET seconds / ours) and ``ratio_vs_brian2_cpp``
(ours / Brian2's).

Examples:
  python scripts/benchmark.py lif --n 1000 --steps 1000 --threads 1
  python scripts/benchmark.py lif --n 5000 --steps 1000 --threads 1 --reference
  python scripts/benchmark.py soak --env spikerl/Catch-v0 --steps 1000000 --interval 50000
  python scripts/benchmark.py deep --env SpaceInvaders --algo ppo --steps 4096 --threads 1
  python scripts/benchmark.py eligibility --repeats 5
  python scripts/benchmark.py gpu --parts lif agent dc --compiled
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REF_PYTHON = "/tmp/spikerl-ref-venv/bin/python"
DEFAULT_REF_BENCH = REPO.parent / "shared" / "reference-bench"


# --- shared helpers ---------------------------------------------------------------------------------------
def wall_times(run: Callable[[int], None], repeats: int) -> list[float]:
    """Wall time of ``run(r)`` for ``r = 0 .. repeats-1`` (seconds, one value per repeat)."""
    seconds = []
    for r in range(repeats):
        t0 = time.perf_counter()
        run(r)
        seconds.append(time.perf_counter() - t0)
    return seconds


def check_reference(args: argparse.Namespace, script: str) -> None:
    """Exit with a clear message unless the reference venv and ``script`` exist (checked before timing)."""
    if not Path(args.ref_python).exists():
        raise SystemExit(f"reference python {args.ref_python} not found: build it with "
                         f"{Path(args.ref_bench) / 'setup_venv.sh'} or give --ref-python / SPIKERL_REF_PYTHON")
    if not (Path(args.ref_bench) / script).exists():
        raise SystemExit(f"reference script {Path(args.ref_bench) / script} not found: give --ref-bench / "
                         "SPIKERL_REF_BENCH")


def run_reference(args: argparse.Namespace, script: str, options: list[str]) -> dict[str, Any]:
    """Run ``script`` of the reference bench in the reference venv; returns the JSON line it prints."""
    check_reference(args, script)
    cmd = [args.ref_python, str(Path(args.ref_bench) / script), *options]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"reference run failed ({' '.join(cmd)}), exit code {proc.returncode}:\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    result["command"] = " ".join(cmd)
    return result


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=1, help="torch threads (torch.set_num_threads)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; seconds = their median")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", action="store_true", help="also run the reference implementations, same flags")
    p.add_argument("--ref-python", default=os.environ.get("SPIKERL_REF_PYTHON", DEFAULT_REF_PYTHON),
                   help="python of the reference venv (env SPIKERL_REF_PYTHON)")
    p.add_argument("--ref-bench", default=os.environ.get("SPIKERL_REF_BENCH", str(DEFAULT_REF_BENCH)),
                   help="folder of the reference scripts (env SPIKERL_REF_BENCH)")


# --- lif: Poisson -> Dense -> LIF ---------------------------------------------------------------------------
def bench_lif(args: argparse.Namespace) -> dict[str, Any]:
    """spikerl's timing of the LIF workload."""
    import torch

    from spikerl import Dense, Input, LIF, Network, kernels
    from spikerl.encoding.poisson import poisson

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    n, steps = args.n, args.steps
    t0 = time.perf_counter()
    net = Network(dt_ms=args.dt)
    net.add_layer("X", Input(n, dt_ms=args.dt))
    net.add_layer("Y", LIF(n, dt_ms=args.dt))
    net.add_connection("X", "Y", Dense(n, n, wmin=0.0, wmax=1.0))  # weights U(0, 1)
    setup = time.perf_counter() - t0

    rates = torch.full((1, n), float(args.rate))
    t0 = time.perf_counter()
    trains = [poisson(rates, steps, args.dt) for _ in range(args.repeats)]
    encode = (time.perf_counter() - t0) / args.repeats

    record = ["Y.spikes"] if args.count_spikes else []
    t0 = time.perf_counter()
    net.reset(1)
    net.run({"X": poisson(rates, min(steps, 10), args.dt)})  # warm-up: compiles the kernels, first allocations
    warm = time.perf_counter() - t0

    out_spikes = []

    def run(r: int) -> None:
        net.reset(1)
        out = net.run({"X": trains[r]}, record=record)
        if record:
            out_spikes.append(int(out["Y.spikes"].sum()))

    seconds = wall_times(run, args.repeats)
    result = dict(workload="lif", n=n, steps=steps, seconds=statistics.median(seconds), all_seconds=seconds,
                  threads=args.threads, kernels=kernels.available(), setup_seconds=setup, encode_seconds=encode,
                  warmup_seconds=warm, rate_hz=args.rate, dt_ms=args.dt,
                  input_spikes=statistics.median([int(x.sum()) for x in trains]))
    if out_spikes:
        result["output_spikes"] = statistics.median(out_spikes)
    return result


def reference_lif(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Adds BindsNET's and Brian2 cpp_standalone's timings of the LIF workload, and the ratios."""
    common = ["--n", str(args.n), "--steps", str(args.steps), "--threads", str(args.threads), "--rate",
              str(args.rate), "--dt", str(args.dt), "--seed", str(args.seed)]
    if args.count_spikes:
        common.append("--count-spikes")
    bindsnet = run_reference(args, "bench_lif.py", ["--impl", "bindsnet", *common, "--repeats", str(args.repeats)])
    brian2 = run_reference(args, "bench_lif.py", ["--impl", "brian2", "--target", "cpp_standalone", *common])
    result["bindsnet"] = bindsnet
    result["brian2_cpp"] = brian2
    result["speedup_vs_bindsnet"] = bindsnet["seconds"] / result["seconds"]
    result["ratio_vs_brian2_cpp"] = result["seconds"] / brian2["seconds"]


def add_lif(sub: Any) -> None:
    from spikerl.validation import number_flag

    p = sub.add_parser("lif", help="N Poisson inputs -> N LIF neurons, all-to-all")
    p.add_argument("--n", type=number_flag(1, integer=True), default=1000, help="inputs and LIF neurons")
    p.add_argument("--steps", type=number_flag(1, integer=True), default=1000)
    p.add_argument("--rate", type=number_flag(0), default=15.0,
                   help="Poisson input rate, Hz (above 1000 / dt it saturates, with a warning)")
    p.add_argument("--dt", type=number_flag(0, low_open=True), default=1.0, help="ms")
    p.add_argument("--count-spikes", action="store_true", help="record output spikes (sanity; adds cost)")
    add_common_arguments(p)
    p.set_defaults(bench=bench_lif, reference_bench=reference_lif, reference_scripts=["bench_lif.py"])


# --- dc: Diehl & Cook (2015) seconds per sample, training and inference -------------------------------------------
def bench_dc(args: argparse.Namespace) -> dict[str, Any]:
    """Seconds per sample of ``DiehlAndCook2015.present`` on random images (the reference's workload).

    Training uses the faithful online mode at batch 1 and the batched mode otherwise; encoding is included
    (it runs inside ``present``). Random images drive every input near the maximum rate: busier than MNIST.
    """
    import numpy as np
    import torch

    from spikerl.models import DiehlAndCook2015

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    model = DiehlAndCook2015(n_neurons=args.n_neurons, time_ms=float(args.time), dt_ms=args.dt,
                             intensity_hz=args.intensity, generator=torch.Generator().manual_seed(args.seed))
    mode = "online" if args.batch_size == 1 else "batched"
    batches = [torch.from_numpy(rng.integers(0, 256, size=(args.batch_size, 28, 28), dtype=np.uint8))
               for _ in range(args.samples)]

    def timed(learning: bool) -> list[float]:
        model.present(batches[0], learning=learning, mode=mode, generator=generator)  # warm-up: kernels
        return wall_times(lambda r: model.present(batches[r], learning=learning, mode=mode, generator=generator),
                          args.samples)

    train = statistics.median(timed(True)) / args.batch_size
    infer = statistics.median(timed(False)) / args.batch_size
    return dict(workload="dc", n_neurons=args.n_neurons, batch_size=args.batch_size, time=args.time,
                threads=args.threads, mode=mode, intensity_hz=args.intensity, samples=args.samples * args.batch_size,
                seconds=train, train_seconds_per_sample=train, infer_seconds_per_sample=infer,
                train_samples_per_second=1.0 / train, infer_samples_per_second=1.0 / infer)


def reference_dc(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Adds BindsNET's DiehlAndCook2015 timings (training and inference, same settings) and the ratios."""
    common = ["--impl", "bindsnet", "--n-neurons", str(args.n_neurons), "--batch-size", str(args.batch_size),
              "--time", str(args.time), "--dt", str(args.dt), "--intensity", str(args.intensity),
              "--threads", str(args.threads), "--seed", str(args.seed),
              "--samples", str(max(2, args.samples // (4 if args.batch_size > 1 else 1)))]
    train = run_reference(args, "bench_dc.py", common)
    infer = run_reference(args, "bench_dc.py", [*common, "--no-learning"])
    result["bindsnet_train"], result["bindsnet_infer"] = train, infer
    # BindsNET's per-sample time including its Poisson encoding, as ours includes encoding.
    result["train_fraction_of_bindsnet"] = result["train_seconds_per_sample"] / train["seconds_incl_encode"]
    result["infer_fraction_of_bindsnet"] = result["infer_seconds_per_sample"] / infer["seconds_incl_encode"]


def add_dc(sub: Any) -> None:
    from spikerl.validation import number_flag

    positive = number_flag(1, integer=True)
    p = sub.add_parser("dc", help="Diehl & Cook (2015) network: seconds per sample, training and inference")
    p.add_argument("--n_neurons", "--n-neurons", type=positive, default=100, help="excitatory neurons")
    p.add_argument("--batch_size", "--batch-size", type=positive, default=1, help="1: faithful online learning")
    p.add_argument("--time", type=positive, default=250, help="presentation time, ms (reference default 250)")
    p.add_argument("--dt", type=number_flag(0, low_open=True), default=1.0, help="ms")
    p.add_argument("--intensity", type=number_flag(0), default=128.0,
                   help="rate of a white pixel, Hz (reference: 128)")
    p.add_argument("--samples", type=positive, default=10, help="timed presentations (batches when batch_size > 1)")
    add_common_arguments(p)
    p.set_defaults(bench=bench_dc, reference_bench=reference_dc, reference_scripts=["bench_dc.py"])


# --- agent: RSTDP learning on an environment vs the raw environment -------------------------------------------
def bench_agent(args: argparse.Namespace) -> dict[str, Any]:
    """Environment steps per second: random actions on the raw env vs the learning agent (``--algo``: RSTDP or
    RSTDPActorCritic, with play.py's settings for that algo), same VecEnv."""
    import numpy as np
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    import envs
    from agents import RSTDP, RSTDPActorCritic

    torch.set_num_threads(args.threads)
    ale = envs.is_ale_id(envs.resolve_id(args.env))
    make_kwargs = {"resize": tuple(args.resize)} if args.resize and ale else {}
    subproc = args.vec_env == "subproc" or (args.vec_env == "auto" and ale and args.n_envs > 1)

    def vec_env():
        return envs.make_vec(args.env, n_envs=args.n_envs, seed=args.seed,
                             vec_env_cls=SubprocVecEnv if subproc else DummyVecEnv, **make_kwargs)

    raw_env, rng = vec_env(), np.random.default_rng(args.seed)
    raw_env.reset()
    n_actions = raw_env.action_space.n

    def raw(r: int) -> None:
        for _ in range(args.steps // args.n_envs):
            raw_env.step(rng.integers(n_actions, size=args.n_envs))

    # The agent play.py trains: its ALE settings of this algo for ALE games, then any settings given here.
    from play import ale_defaults

    agent_cls = RSTDPActorCritic if args.algo == "rstdp-ac" else RSTDP
    defaults = ale_defaults(args.algo, no_hidden_layer=args.hidden_size == 0)
    agent_kwargs = {k: v for k, v in defaults.items() if v is not None} if ale else {}
    agent_kwargs.update({k: getattr(args, k) for k in ("hidden_size", "steps_per_action", "population_size")
                         if getattr(args, k) is not None})
    model = agent_cls(agent_cls.policy_name, vec_env(), seed=args.seed, **agent_kwargs)
    model.learn(args.n_envs * 10)  # warm-up: calibration, kernels, first allocations

    def agent(r: int) -> None:
        model.learn(args.steps, reset_num_timesteps=False)

    raw(0)  # warm-up
    raw_seconds, agent_seconds = [], []
    for _ in range(args.repeats):  # alternated: a drift of the machine's speed reaches both alike
        raw_seconds += wall_times(raw, 1)
        agent_seconds += wall_times(agent, 1)
    steps = (args.steps // args.n_envs) * args.n_envs
    raw_fps = steps / statistics.median(raw_seconds)
    agent_fps = args.steps / statistics.median(agent_seconds)
    raw_env.close()
    model.env.close()
    return dict(workload="agent", algo=args.algo, env=args.env, n_envs=args.n_envs, steps=args.steps,
                threads=args.threads,
                vec_env="subproc" if subproc else "dummy",
                agent=agent_kwargs, resize=args.resize, raw_steps_per_second=raw_fps,
                agent_steps_per_second=agent_fps, agent_vs_raw=agent_fps / raw_fps,
                seconds=statistics.median(agent_seconds), raw_all_seconds=raw_seconds,
                agent_all_seconds=agent_seconds)


def add_agent(sub: Any) -> None:
    from spikerl.validation import number_flag

    p = sub.add_parser("agent", help="R-STDP agent learning vs the raw environment, env steps per second")
    p.add_argument("--env", default="SpaceInvaders", help="name for envs.make (default: SpaceInvaders)")
    p.add_argument("--algo", choices=("rstdp", "rstdp-ac"), default="rstdp",
                   help="rstdp: agents.RSTDP; rstdp-ac: agents.RSTDPActorCritic (each with play.py's ALE settings "
                        "of that --algo)")
    p.add_argument("--n-envs", type=int, default=8, help="environments in one VecEnv batch")
    p.add_argument("--steps", type=int, default=2000, help="environment steps per timed run (all envs)")
    p.add_argument("--vec-env", choices=("auto", "dummy", "subproc"), default="auto",
                   help="envs in this process or one worker process each; auto: subproc for ALE games with "
                        "several envs, as scripts/play.py")
    p.add_argument("--hidden-size", type=number_flag(0, integer=True), default=None, help="agent hidden layer size (default: as play.py)")
    p.add_argument("--steps-per-action", type=number_flag(1, integer=True), default=None,
                   help="simulation steps per env step (default: as play.py)")
    p.add_argument("--population-size", type=number_flag(1, integer=True), default=None,
                   help="output neurons per action (default: as play.py)")
    p.add_argument("--resize", type=int, nargs=2, default=[42, 42], metavar=("H", "W"),
                   help="frame size for ALE games (default: 42 42, as play.py)")
    add_common_arguments(p)
    p.set_defaults(bench=bench_agent, reference_bench=None, reference_scripts=[])


# --- soak: the agent for a long run; memory must stay flat and weights finite ----------------------------------
def rss_mib(pid: int | str = "self", field: str = "VmRSS") -> float:
    """Resident memory of process ``pid`` (MiB) from ``/proc/<pid>/status`` (Linux): ``field`` ``VmRSS`` (all of
    it), ``RssAnon`` (heap, stacks: where leaks show) or ``RssFile`` (mapped files such as libraries)."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        raise SystemExit(f"soak reads the resident set size from {status}, which does not exist: the soak "
                         "workload needs Linux's /proc")
    for line in status.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0  # the line reads "VmRSS:  123456 kB"
    raise SystemExit(f"no {field} line in {status} (a zombie process?)")


def children_rss_mib() -> float:
    """Summed resident set size (MiB) of this process's live ``multiprocessing`` children (subprocess envs)."""
    import multiprocessing

    return sum((rss_mib(child.pid) for child in multiprocessing.active_children()), 0.0)


def soak_sample(model: Any, started: float, last: dict[str, Any] | None) -> dict[str, Any]:
    """One sample of a soak run: env steps, memory, plastic weights, finiteness, speed since ``last``.

    ``rss_mib`` is this process plus its subprocess envs (``children_rss_mib``; pages they share with this
    process count in each); ``anon_mib`` is this process's anonymous part (heap: growth of ``rss_mib`` with a
    flat ``anon_mib`` is library code paged in, not a leak). ``python_objects`` counts the objects the garbage collector tracks: containers,
    so growth there points at a leak of Python objects, while lists that grow by floats or ints show in RSS
    (and in ``tracemalloc``) only. ``weights`` are min/max/mean/std of the plastic connection (units of its weights, mV per
    spike); ``finite`` covers every connection's weights, ``eligibility_finite`` the training state of the
    plastic rule (pre/post traces and eligibility).
    """
    import gc

    import torch

    policy = model.policy
    net = policy.network
    seconds = time.perf_counter() - started
    steps = int(model.num_timesteps)
    w = net.connections[policy.plastic].weight.detach()
    rule_state = policy.train_state.rules[policy.plastic]
    self_rss, child_rss = rss_mib(), children_rss_mib()
    since_steps = steps - (last["steps"] if last else 0)
    since_seconds = seconds - (last["seconds"] if last else 0.0)
    return dict(steps=steps, seconds=seconds, rss_mib=self_rss + child_rss, children_rss_mib=child_rss,
                anon_mib=rss_mib(field="RssAnon"),
                python_objects=len(gc.get_objects()),
                weights=dict(min=float(w.min()), max=float(w.max()), mean=float(w.mean()), std=float(w.std())),
                finite=all(bool(torch.isfinite(c.weight).all()) for c in net.connections.values()),
                eligibility_finite=all(bool(torch.isfinite(t).all()) for t in rule_state),
                eligibility_absmax=float(rule_state.eligibility.abs().max()),
                steps_per_second=since_steps / max(since_seconds, 1e-9))


def soak_monitor(interval: int, started: float) -> Any:
    """An SB3 callback that appends a :func:`soak_sample` to its ``samples`` whenever the env steps reach the
    next multiple of ``interval`` (and once at the end of training, if the last steps fell between two), and
    prints each as a row of a table on stderr."""
    from stable_baselines3.common.callbacks import BaseCallback

    class SoakMonitor(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.samples: list[dict[str, Any]] = []
            self.next_sample = interval

        def _on_training_start(self) -> None:
            print(f"{'steps':>9} {'rss MiB':>9} {'objects':>9} {'w min':>9} {'w max':>9} {'w mean':>9} "
                  f"{'w std':>9} {'finite':>6} {'elig':>6} {'steps/s':>8}", file=sys.stderr, flush=True)

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_sample:
                self.next_sample = (self.num_timesteps // interval + 1) * interval
                self.take()
            return True

        def _on_training_end(self) -> None:
            if not self.samples or self.samples[-1]["steps"] != self.num_timesteps:
                self.take()

        def take(self) -> None:
            s = soak_sample(self.model, started, self.samples[-1] if self.samples else None)
            self.samples.append(s)
            w = s["weights"]
            print(f"{s['steps']:>9d} {s['rss_mib']:>9.1f} {s['python_objects']:>9d} {w['min']:>9.4f} "
                  f"{w['max']:>9.4f} {w['mean']:>9.4f} {w['std']:>9.4f} {str(s['finite']):>6} "
                  f"{str(s['eligibility_finite']):>6} {s['steps_per_second']:>8.0f}", file=sys.stderr, flush=True)

    return SoakMonitor()


def bench_soak(args: argparse.Namespace) -> dict[str, Any]:
    """Trains the RSTDP agent (play.py's settings for the env) for ``--steps`` env steps, sampling memory and
    weights every ``--interval`` steps; the verdict is flat memory after the warm-up and finite weights.

    Warm-up: samples before ``--warmup`` (a fraction of ``--steps``) are reported but not judged: the first
    steps calibrate the network, load kernels and fill the allocator's and Python's caches and SB3's
    100-episode ``ep_info_buffer``. ``rss_growth = (last RSS - baseline) / baseline``, the baseline being the
    first sample at or after the warm-up; ``flat``: ``rss_growth <= --max-growth``; ``finite``: every
    connection's weights and the plastic rule's traces and eligibility were finite at every sample.
    """
    if args.interval < 1 or args.steps < 1 or not 0.0 <= args.warmup < 1.0:
        raise SystemExit(f"soak needs --steps >= 1, --interval >= 1 and 0 <= --warmup < 1; got --steps {args.steps}, "
                         f"--interval {args.interval}, --warmup {args.warmup}")
    import resource

    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    import envs
    from agents import RSTDP
    from play import ATARI_DEFAULTS, ATARI_ENV_KWARGS

    torch.set_num_threads(args.threads)
    ale = envs.is_ale_id(envs.resolve_id(args.env))
    # The agent play.py trains, with its defaults (no flags) for this env.
    agent_kwargs = {k: v for k, v in ATARI_DEFAULTS.items() if v is not None} if ale else {}
    subproc = args.vec_env == "subproc"
    env = envs.make_vec(args.env, n_envs=args.n_envs, seed=args.seed,
                        vec_env_cls=SubprocVecEnv if subproc else DummyVecEnv, **(ATARI_ENV_KWARGS if ale else {}))
    model = RSTDP("SpikingPolicy", env, seed=args.seed, tensorboard_log=args.tensorboard, **agent_kwargs)
    started = time.perf_counter()
    monitor = soak_monitor(args.interval, started)
    model.learn(args.steps, callback=monitor, tb_log_name="soak")
    seconds = time.perf_counter() - started
    env.close()

    samples = monitor.samples
    warmup_steps = int(args.warmup * args.steps)
    baseline = next(s for s in samples if s["steps"] >= warmup_steps)  # the last sample is at --steps
    growth = (samples[-1]["rss_mib"] - baseline["rss_mib"]) / baseline["rss_mib"]
    flat = growth <= args.max_growth
    finite = all(s["finite"] and s["eligibility_finite"] for s in samples)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux
    return dict(workload="soak", env=args.env, n_envs=args.n_envs, steps=int(model.num_timesteps),
                interval=args.interval, threads=args.threads, seed=args.seed,
                vec_env="subproc" if subproc else "dummy", agent=agent_kwargs, tensorboard=args.tensorboard,
                seconds=seconds, steps_per_second=model.num_timesteps / seconds, warmup_steps=warmup_steps,
                rss_first_mib=samples[0]["rss_mib"], rss_baseline_mib=baseline["rss_mib"],
                rss_baseline_steps=baseline["steps"], rss_last_mib=samples[-1]["rss_mib"],
                rss_max_mib=max(s["rss_mib"] for s in samples), rss_peak_self_mib=peak, rss_growth=growth,
                max_growth=args.max_growth, flat=flat, finite=finite, passed=flat and finite, samples=samples)


def add_soak(sub: Any) -> None:
    p = sub.add_parser("soak", help="the RSTDP agent for a long run: memory flat (RSS) and weights finite; "
                                    "exit status 1 otherwise")
    p.add_argument("--env", default="spikerl/Catch-v0", help="name for envs.make (default: spikerl/Catch-v0)")
    p.add_argument("--steps", type=int, default=1_000_000, help="environment steps to train (all envs)")
    p.add_argument("--n-envs", type=int, default=8, help="environments in one VecEnv batch")
    p.add_argument("--interval", type=int, default=50_000, help="env steps between samples")
    p.add_argument("--warmup", type=float, default=0.1,
                   help="fraction of --steps whose samples are not judged (calibration, caches, allocator)")
    p.add_argument("--max-growth", type=float, default=0.05,
                   help="largest relative RSS growth from the first post-warm-up sample to the last that passes")
    p.add_argument("--vec-env", choices=("dummy", "subproc"), default="dummy",
                   help="envs in this process (default: one RSS to watch) or one worker process each (their RSS "
                        "is added)")
    p.add_argument("--tensorboard", metavar="DIR", default=None,
                   help="also write SB3's TensorBoard logs there, as scripts/play.py does (default: none)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (torch.set_num_threads)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(bench=bench_soak, reference_bench=None, reference_scripts=[], repeats=1, reference=False)


# --- deep: spiking PPO/A2C/DQN vs SB3's own, training env steps per second -------------------------------------
def bench_deep(args: argparse.Namespace) -> dict[str, Any]:
    """Training env steps per second of the spiking algorithm and of SB3's, same env and hyperparameters."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import A2C, DQN, PPO
    from stable_baselines3.common.env_util import make_atari_env, make_vec_env
    from stable_baselines3.common.vec_env import VecFrameStack

    import envs
    from agents import SpikingA2C, SpikingDQN, SpikingPPO
    from agents.deep.extractors import DEFAULT_TIME_STEPS

    torch.set_num_threads(args.threads)
    env_id = envs.resolve_id(args.env)
    ale = envs.is_ale_id(env_id)

    def vec_env():
        if ale:
            import ale_py

            gym.register_envs(ale_py)
            frameskip = {"frameskip": 1} if env_id.endswith("-v5") else {}
            return VecFrameStack(make_atari_env(env_id, n_envs=args.n_envs, seed=args.seed, env_kwargs=frameskip), 4)
        envs.register_toy_envs()
        return make_vec_env(env_id, n_envs=args.n_envs, seed=args.seed)

    probe = vec_env()
    image = len(probe.observation_space.shape) == 3
    probe.close()
    sb3_cls, spiking_cls = {"ppo": (PPO, SpikingPPO), "a2c": (A2C, SpikingA2C), "dqn": (DQN, SpikingDQN)}[args.algo]
    hyper: dict[str, Any] = dict(seed=args.seed, device=args.device)
    if args.algo == "ppo":
        hyper.update(n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs)
    elif args.algo == "a2c":
        hyper.update(n_steps=args.n_steps)
    else:
        hyper.update(buffer_size=max(args.steps, 1000), learning_starts=args.n_steps, batch_size=args.batch_size)
    time_steps = args.time_steps or DEFAULT_TIME_STEPS
    kind = "Cnn" if image else "Mlp"
    runs = {"sb3": (sb3_cls, f"{kind}Policy", {}),
            "spiking": (spiking_cls, f"Spiking{kind}Policy",
                        dict(policy_kwargs=dict(features_extractor_kwargs=dict(time_steps=time_steps))))}
    models = {}
    for name, (cls, policy, extra) in runs.items():
        models[name] = cls(policy, vec_env(), **hyper, **extra)
        models[name].learn(args.n_envs * 2)  # warm-up: first allocations (PPO/A2C: one full rollout)
    # Interleaved (SB3, spiking, SB3, spiking, ...) so that a change in machine load hits both alike.
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, model in models.items():
            seconds[name] += wall_times(lambda r: model.learn(args.steps, reset_num_timesteps=False), 1)
    for model in models.values():
        model.env.close()
    fps = {name: args.steps / statistics.median(s) for name, s in seconds.items()}
    devices = {name: str(model.device) for name, model in models.items()}
    if "cuda" in devices["spiking"]:
        devices["device_name"] = torch.cuda.get_device_name(models["spiking"].device)
    return dict(workload="deep", env=env_id, algo=args.algo, n_envs=args.n_envs, steps=args.steps,
                threads=args.threads, time_steps=time_steps, devices=devices, hyperparameters=hyper,
                sb3_steps_per_second=fps["sb3"], spiking_steps_per_second=fps["spiking"],
                spiking_vs_sb3=fps["spiking"] / fps["sb3"], seconds=statistics.median(seconds["spiking"]),
                sb3_all_seconds=seconds["sb3"], spiking_all_seconds=seconds["spiking"])


def add_deep(sub: Any) -> None:
    from spikerl.validation import number_flag

    p = sub.add_parser("deep", help="spiking PPO/A2C/DQN vs SB3's own, training env steps per second")
    p.add_argument("--env", default="SpaceInvaders", help="name for envs.resolve_id (default: SpaceInvaders)")
    p.add_argument("--algo", choices=("ppo", "a2c", "dqn"), default="ppo")
    p.add_argument("--steps", type=number_flag(1, integer=True), default=4096,
                   help="environment steps per timed run (all envs)")
    p.add_argument("--n-envs", type=number_flag(1, integer=True), default=8, help="environments in one VecEnv")
    p.add_argument("--n-steps", type=number_flag(1, integer=True), default=128,
                   help="PPO/A2C rollout steps per env (DQN: learning_starts)")
    p.add_argument("--batch-size", type=number_flag(1, integer=True), default=256, help="PPO/DQN minibatch")
    p.add_argument("--n-epochs", type=number_flag(1, integer=True), default=4, help="PPO epochs per rollout")
    p.add_argument("--time-steps", type=number_flag(1, integer=True), default=None,
                   help="simulation steps per env step (default: agents.deep's default)")
    p.add_argument("--device", default="auto",
                   help="torch device of both models (default: auto, SB3's choice: CUDA where there is one)")
    add_common_arguments(p)
    p.set_defaults(bench=bench_deep, reference_bench=None, reference_scripts=[], repeats=1)


# --- gpu: the same workloads on two devices (CPU against CUDA) ------------------------------------------------
def device_wall_times(run: Callable[[int], None], repeats: int, device: Any) -> list[float]:
    """:func:`wall_times` that waits for ``device``'s queued work before stopping each timer (CUDA is
    asynchronous: without it a run would time only the launches)."""
    import torch

    def synced(r: int) -> None:
        run(r)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return wall_times(synced, repeats)


def gpu_lif(args: argparse.Namespace, device: Any, backend: str = "auto") -> dict[str, Any]:
    """The ``lif`` workload's network on ``device`` (inputs drawn there): seconds per run of ``--steps``."""
    import torch

    from spikerl import Dense, Input, LIF, Network
    from spikerl.encoding.poisson import poisson

    net = Network()
    net.add_layer("X", Input(args.n))
    net.add_layer("Y", LIF(args.n, backend=backend))
    net.add_connection("X", "Y", Dense(args.n, args.n, wmin=0.0, wmax=1.0,
                                       generator=torch.Generator().manual_seed(args.seed)))
    net.to(device)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    trains = [poisson(torch.full((args.batch, args.n), 15.0, device=device), args.steps, generator=generator)
              for _ in range(args.repeats)]
    t0 = time.perf_counter()
    device_wall_times(lambda r: (net.reset(args.batch), net.run({"X": trains[0]})), 1, device)  # warm-up, compile
    warm = time.perf_counter() - t0
    seconds = device_wall_times(lambda r: (net.reset(args.batch), net.run({"X": trains[r]})), args.repeats, device)
    return dict(seconds=statistics.median(seconds), all_seconds=seconds, warmup_seconds=warm, backend=backend)


def gpu_agent(args: argparse.Namespace, device: Any, backend: str = "auto") -> dict[str, Any]:
    """The RSTDP agent learning ``--env`` on ``device``: seconds per environment step (all envs together), its
    time loop run with ``backend`` (``SpikingPolicy.use_backend``)."""
    import envs
    from agents import RSTDP

    model = RSTDP("SpikingPolicy", envs.make_vec(args.env, n_envs=args.n_envs, seed=args.seed), seed=args.seed,
                  hidden_size=args.hidden_size, device=device)
    model.policy.use_backend(backend)
    t0 = time.perf_counter()
    model.learn(args.n_envs * 10, log_interval=0)  # warm-up: calibration, first allocations, compiling
    warm = time.perf_counter() - t0
    seconds = device_wall_times(lambda r: model.learn(args.env_steps, reset_num_timesteps=False, log_interval=0),
                                args.repeats, device)
    model.env.close()
    per_step = [s / args.env_steps for s in seconds]
    return dict(seconds=statistics.median(per_step), all_seconds=per_step,
                steps_per_second=1.0 / statistics.median(per_step), warmup_seconds=warm, backend=backend)


def gpu_dc(args: argparse.Namespace, device: Any, group_backend: str = "torch") -> dict[str, Any]:
    """Diehl & Cook batched training on ``device`` (random images, batch ``--batch``): seconds per sample, with
    the recurrent pair stepped by ``group_backend`` (the CPU's fused C path, where it applies, ignores it)."""
    import torch

    from spikerl.models import DiehlAndCook2015

    model = DiehlAndCook2015(n_neurons=args.n_neurons, time_ms=float(args.time), group_backend=group_backend,
                             generator=torch.Generator().manual_seed(args.seed)).to(device)
    images = torch.randint(0, 256, (args.repeats + 1, args.batch, 28, 28), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(args.seed))
    generator = torch.Generator(device=device).manual_seed(args.seed)

    def present(r: int) -> None:
        model.present(images[r], learning=True, mode="batched", generator=generator)

    t0 = time.perf_counter()
    device_wall_times(lambda r: present(args.repeats), 1, device)  # warm-up, compile
    warm = time.perf_counter() - t0
    seconds = [s / args.batch for s in device_wall_times(present, args.repeats, device)]
    return dict(seconds=statistics.median(seconds), all_seconds=seconds, warmup_seconds=warm,
                group_backend=group_backend)


def bench_gpu(args: argparse.Namespace) -> dict[str, Any]:
    """Each part of ``--parts`` on the two ``--devices``, one after the other, and the speedup of the second."""
    import torch

    devices = [torch.device(d) for d in args.devices]
    if any(d.type == "cuda" for d in devices) and not torch.cuda.is_available():
        raise SystemExit(f"the gpu workload compares {' and '.join(args.devices)}, but torch finds no CUDA device "
                         f"here (torch {torch.__version__}, CUDA build {torch.version.cuda}); run it on a machine "
                         "with a GPU, or give --devices cpu cpu to check the workload itself")
    torch.set_num_threads(args.threads)
    first, second = devices
    result: dict[str, Any] = dict(workload="gpu", devices=args.devices, threads=args.threads, n=args.n,
                                  steps=args.steps, batch=args.batch, env=args.env, n_envs=args.n_envs,
                                  env_steps=args.env_steps, n_neurons=args.n_neurons, time=args.time)
    if second.type == "cuda":
        result["device_name"] = torch.cuda.get_device_name(second)
    parts = {"lif": gpu_lif, "agent": gpu_agent, "dc": gpu_dc}
    for part in args.parts:
        a, b = parts[part](args, first), parts[part](args, second)
        result[part] = {"reference": a, "device": b, "speedup": a["seconds"] / b["seconds"]}
        if args.compiled:
            compiled = {"lif": lambda: gpu_lif(args, second, backend="compiled"),
                        "agent": lambda: gpu_agent(args, second, backend="compiled"),
                        "dc": lambda: gpu_dc(args, second, group_backend="compiled")}[part]()
            result[part]["compiled"] = compiled
            result[part]["compiled_speedup"] = a["seconds"] / compiled["seconds"]
    result["seconds"] = sum(result[p]["device"]["seconds"] for p in args.parts)
    return result


def add_gpu(sub: Any) -> None:
    from spikerl.validation import number_flag

    positive = number_flag(1, integer=True)
    p = sub.add_parser("gpu", help="the lif, agent and dc workloads on the CPU and on CUDA, and the speedup")
    p.add_argument("--devices", nargs=2, default=["cpu", "cuda"], metavar=("REFERENCE", "DEVICE"),
                   help="the two devices to compare (default: cpu cuda)")
    p.add_argument("--parts", nargs="+", choices=("lif", "agent", "dc"), default=["lif", "agent", "dc"])
    p.add_argument("--n", type=positive, default=1000, help="lif: inputs and LIF neurons")
    p.add_argument("--steps", type=positive, default=1000, help="lif: steps per run")
    p.add_argument("--batch", type=positive, default=64, help="lif and dc: samples per run")
    p.add_argument("--compiled", action="store_true",
                   help="also each part's time loop compiled by torch.compile on the second device: lif the LIF "
                        "layer's 'compiled' backend, agent SpikingPolicy.use_backend('compiled'), dc the recurrent "
                        "pair's group_backend='compiled'")
    p.add_argument("--env", default="spikerl/Catch-v0", help="agent: name for envs.make_vec")
    p.add_argument("--n-envs", type=positive, default=64, help="agent: environments in one VecEnv batch")
    p.add_argument("--env-steps", type=positive, default=2048, help="agent: env steps per timed run (all envs)")
    p.add_argument("--hidden-size", type=number_flag(0, integer=True), default=64, help="agent: hidden layer")
    p.add_argument("--n-neurons", type=positive, default=400, help="dc: excitatory neurons")
    p.add_argument("--time", type=positive, default=250, help="dc: presentation time, ms")
    add_common_arguments(p)
    p.set_defaults(bench=bench_gpu, reference_bench=None, reference_scripts=[])


# --- eligibility: MSTDPET against FactoredMSTDPET on a sparse input ---------------------------------------------
def bench_eligibility(args: argparse.Namespace) -> dict[str, Any]:
    """Milliseconds per env step of each rule's accumulate and reward_update on the same random trains."""
    import torch

    from spikerl import kernels
    from spikerl.connections import Dense
    from spikerl.plasticity import MSTDPET, FactoredMSTDPET
    from spikerl.traces import TraceParams

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    density = args.spikes / args.inputs
    trains = [(torch.rand(args.steps, args.batch, args.inputs, generator=g) < density,
               torch.randn(args.steps, args.batch, args.targets, generator=g),
               torch.randn(args.batch, generator=g)) for _ in range(args.env_steps)]
    conn = Dense(args.inputs, args.targets, w=torch.zeros(args.inputs, args.targets))
    settings = dict(lr=1e-3, a_plus=1.0, a_minus=0.0, tau_e_ms=args.tau_e_ms, pre_trace=TraceParams(args.tau_pre_ms))
    rules = {"dense": MSTDPET(**settings), "factored": FactoredMSTDPET(**settings)}
    states = {name: rule.initial_state(conn, args.batch) for name, rule in rules.items()}
    timings: dict[str, dict[str, list[float]]] = {name: {"accumulate": [], "reward": []} for name in rules}

    def one_pass(name: str) -> None:
        rule, state, accumulate, reward = rules[name], states[name], 0.0, 0.0
        for pre, post, r in trains:
            t0 = time.perf_counter()
            state = rule.accumulate(conn, pre, post, state, 1.0, inplace=True)
            t1 = time.perf_counter()
            rule.reward_update(conn, state, r)
            reward += time.perf_counter() - t1
            accumulate += t1 - t0
        states[name] = state
        timings[name]["accumulate"].append(1e3 * accumulate / len(trains))
        timings[name]["reward"].append(1e3 * reward / len(trains))

    for name in rules:  # warm-up: kernels, first allocations
        one_pass(name)
        timings[name] = {"accumulate": [], "reward": []}
    for _ in range(args.repeats):  # alternated: a drift of the machine's speed reaches both alike
        for name in rules:
            one_pass(name)
    result = {name: {f"{part}_ms": statistics.median(values) for part, values in parts.items()}
              for name, parts in timings.items()}
    for name in rules:
        result[name]["total_ms"] = result[name]["accumulate_ms"] + result[name]["reward_ms"]
        result[name]["all_accumulate_ms"] = timings[name]["accumulate"]
    return dict(workload="eligibility", inputs=args.inputs, targets=args.targets, batch=args.batch, steps=args.steps,
                spikes=args.spikes, env_steps=args.env_steps, threads=args.threads, kernels=kernels.available(),
                **result, factored_vs_dense=result["factored"]["total_ms"] / result["dense"]["total_ms"])


def add_eligibility(sub: Any) -> None:
    from spikerl.validation import number_flag

    p = sub.add_parser("eligibility", help="MSTDPET vs FactoredMSTDPET on a sparse input, ms per env step")
    p.add_argument("--inputs", type=number_flag(1, integer=True), default=42 * 42, help="presynaptic units")
    p.add_argument("--targets", type=number_flag(1, integer=True), default=256, help="postsynaptic units")
    p.add_argument("--batch", type=number_flag(1, integer=True), default=8, help="environments (samples)")
    p.add_argument("--steps", type=number_flag(1, integer=True), default=8, help="simulation steps per env step")
    p.add_argument("--spikes", type=number_flag(0.0), default=64.0,
                   help="expected input spikes per simulation step and env")
    p.add_argument("--env-steps", type=number_flag(1, integer=True), default=50,
                   help="env steps per timed pass (each with its own trains and reward)")
    p.add_argument("--tau-e-ms", type=number_flag(0.0, low_open=True), default=40.0, help="eligibility time constant")
    p.add_argument("--tau-pre-ms", type=number_flag(0.0, low_open=True), default=10.0,
                   help="presynaptic trace time constant")
    add_common_arguments(p)
    p.set_defaults(bench=bench_eligibility, reference_bench=None, reference_scripts=[])


# --- main -----------------------------------------------------------------------------------------------------
# Each adds its subcommand, whose defaults name bench(args) -> result, reference_bench(args, result) and the
# reference_scripts it needs.
WORKLOADS = [add_lif, add_dc, add_agent, add_eligibility, add_soak, add_deep, add_gpu]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="workload", required=True)
    for add in WORKLOADS:
        add(sub)
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be >= 1")
    if args.reference:
        for script in args.reference_scripts:
            check_reference(args, script)
    load_before = os.getloadavg()
    result = args.bench(args)
    if args.reference and args.reference_bench is not None:
        args.reference_bench(args, result)
    result["loadavg"] = [load_before, os.getloadavg()]
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(0 if main().get("passed", True) else 1)  # a failed check (soak's verdict) gates like a test
