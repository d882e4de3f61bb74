"""A run's training record for ``d2m ship d2m --record``: its command, config and curve from RUN/tb.

    python scripts/training_record.py runs/gan_lower_usage --every 500 --command "d2m train gan ..." \
        --data "..." --final-metrics "docs/results.md ..." --out runs/gan_lower_usage/record.json

The curve holds, every ``--every`` steps, the mean of each logged training loss over the steps since the
previous point, and each evaluation as logged (``eval/...``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml


def curve(run: Path, every: int) -> tuple[list[dict], int, float]:
    """(curve points, last step, minutes between the first and last logged scalar) from RUN/tb."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    points: dict[int, dict] = {}
    sums: dict[tuple[int, str], list[float]] = {}
    first, last, last_step = float("inf"), 0.0, 0
    for tag in events.Tags()["scalars"]:
        for e in events.Scalars(tag):
            first, last, last_step = min(first, e.wall_time), max(last, e.wall_time), max(last_step, e.step)
            if tag.startswith("eval/"):
                points.setdefault(e.step, {})[tag] = round(e.value, 4)
            elif tag.startswith("train/"):
                sums.setdefault((-(-max(e.step, 1) // every) * every, tag), []).append(e.value)
    for (step, tag), values in sums.items():
        points.setdefault(min(step, last_step), {})[tag] = round(sum(values) / len(values), 4)
    return [{"step": s, **points[s]} for s in sorted(points)], last_step, (last - first) / 60 if last else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a `d2m train gan` run folder")
    p.add_argument("--every", type=int, default=500, help="steps between curve points")
    p.add_argument("--command", required=True, help="the command that trained it")
    p.add_argument("--data", default="", help="what it was trained on")
    p.add_argument("--final-metrics", default="", help="where its final metrics are (or the numbers)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    config = yaml.safe_load((args.run / "config.yaml").read_text())
    points, steps, minutes = curve(args.run, args.every)
    record = {
        "command": args.command,
        "config": config,
        "batch_size": config.get("trainer", {}).get("batch_size"),
        "data": args.data,
        "steps": steps,
        "minutes": round(minutes, 1),
        "final_metrics": args.final_metrics,
        "curve": points,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{args.out}: {steps} steps, {minutes:.1f} min, {len(points)} curve points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
