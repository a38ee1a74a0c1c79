"""Learning curves from TensorBoard logs: one line per run, a scalar against env steps, saved as a PNG.

Each ``RUN`` is a TensorBoard run folder (``runs/SpaceInvaders_ppo_seed0_1``, as written by ``play.py
--tensorboard``: the checkpoint's name and ``_N``), optionally labelled ``LABEL=FOLDER``; runs that share a label
(the seeds of one setting) share a colour and one legend entry. The default scalar is SB3's
``rollout/ep_rew_mean``: the mean game score of the last 100 training episodes (``Monitor`` sits below the Atari
wrappers, so these are full games with the unclipped score, played by the exploring policy). ``--hline
LABEL=VALUE`` adds reference lines (the random policy, the best constant action, ...). Prints one JSON line: the
runs (label, colour, last point), the legend's labels and the output path.

Example::

    python scripts/curves.py "spiking PPO=runs/SpaceInvaders_ppo_seed0_1" \\
        "SB3 PPO=runs/SpaceInvaders_ppo_ann_seed0_1" --hline "best constant (FIRE)=285" \\
        --title "SpaceInvaders, PPO, 400k steps" --out curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def read_scalar(run: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of scalar ``tag`` in the TensorBoard run folder ``run``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not run.is_dir():
        raise SystemExit(f"error: {run} is not a folder (expected a TensorBoard run such as runs/Pong_ppo_seed0_1)")
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        raise SystemExit(f"error: {run} has no scalar {tag!r} (it has: {', '.join(events.Tags()['scalars'])})")
    scalars = events.Scalars(tag)
    return np.array([s.step for s in scalars]), np.array([s.value for s in scalars])


def labelled(text: str) -> tuple[str | None, str]:
    """``"LABEL=VALUE"`` -> ``(LABEL, VALUE)``; ``"VALUE"`` -> ``(None, VALUE)``."""
    label, sep, value = text.rpartition("=")
    return (label, value) if sep else (None, text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Plot learning curves from TensorBoard run folders.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="[LABEL=]RUN", help="TensorBoard run folders")
    parser.add_argument("--tag", default="rollout/ep_rew_mean", help="scalar to plot against env steps")
    parser.add_argument("--hline", action="append", default=[], metavar="LABEL=VALUE",
                        help="horizontal reference line (repeatable)")
    parser.add_argument("--title", default="", help="figure title")
    parser.add_argument("--out", default="curves.png", help="output PNG")
    args = parser.parse_args(argv)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    summary, colours = [], {}
    for text in args.runs:
        label, folder = labelled(text)
        steps, values = read_scalar(Path(folder), args.tag)
        label = label or Path(folder).name
        if label in colours:
            ax.plot(steps, values, color=colours[label])
        else:
            colours[label] = ax.plot(steps, values, label=label)[0].get_color()
        summary.append({"label": label, "run": folder, "colour": colours[label], "last_step": int(steps[-1]),
                        "last_value": float(values[-1])})
    for text in args.hline:
        label, value = labelled(text)
        try:
            ax.axhline(float(value), linestyle="--", linewidth=1, color="gray")
        except ValueError:
            raise SystemExit(f"error: --hline {text!r}: expected LABEL=NUMBER") from None
        ax.annotate(label or value, (0, float(value)), xycoords=("axes fraction", "data"), va="bottom", fontsize=8,
                    color="gray")
    ax.set_xlabel("env steps")
    ax.set_ylabel(args.tag)
    ax.set_title(args.title)
    ax.legend()
    ax.grid(alpha=0.3)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    result = {"out": args.out, "tag": args.tag, "legend": list(colours), "runs": summary}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
