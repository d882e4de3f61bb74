"""Every benchmark at a small size, one after another, each in its own process: ``make bench``.

    python benchmarks/run_all.py                  # all that can run here
    python benchmarks/run_all.py --only gan vqvae  # some of them

The sizes are small so that the whole run takes minutes: the numbers show that each benchmark works and give
a first reading; for the figures in the docs run a benchmark on its own at its default size. A benchmark whose
data is not on this machine (the synthetic set, the shared real clip) is skipped with a note.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SYNTH = ROOT / "data" / "synth"
REAL = ROOT.parent / "shared" / "data" / "real-dance"

#: name -> (script, arguments at a small size, data it needs or None).
BENCHMARKS: dict[str, tuple[str, list[str], Path | None]] = {
    "gan": ("bench_gan.py", ["--seconds", "2", "--repeats", "1", "--skip-official-lower"], None),
    "vqvae": ("bench_vqvae.py", ["--max-seconds", "4", "--speed-seconds", "4", "--repeats", "1",
                                 "--memory-seconds", "8", "--whole-seconds", "8"], None),  # fmt: skip
    "sound": ("bench_sound.py", ["--max-seconds", "4"], None),
    "synth": ("bench_synth.py", ["--clips", "2", "--seconds", "3", "--workers", "1", "--width", "320",
                                 "--height", "180"], None),  # fmt: skip
    "features": ("bench_features.py", ["--seconds", "2", "--no-real"], None),
    "generate": ("bench_generate.py", ["--seconds", "4", "--minutes", "0", "--rates", "10"], None),
    "analysis_fps": ("bench_analysis_fps.py", [str(SYNTH), "--limit", "2", "--rates", "30", "10"], SYNTH / "labels"),
    "analysis_fps_real": ("bench_analysis_fps_real.py", [str(REAL / "hiphop_studio_2.9s.mp4"),
                          str(REAL / "openpose_body25"), "--fps", "23.976", "--rates", "0", "10", "--lanes", "1"],
                          REAL / "openpose_body25"),  # fmt: skip
    "web": ("load_web.py", ["--uploads", "2", "--time-limit", "120"], None),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds each benchmark may take (default 300)")
    args = ap.parse_args(argv)
    failed, summary = [], []
    for name in args.only or list(BENCHMARKS):
        script, extra, needs = BENCHMARKS[name]
        if needs is not None and not needs.exists():
            summary.append(f"{name}: skipped ({needs} is not here)")
            continue
        print(f"\n## {name}: {script} {' '.join(extra)}", flush=True)
        t0 = time.perf_counter()
        try:
            rc = subprocess.run([sys.executable, str(HERE / script), *extra], cwd=ROOT, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        took = time.perf_counter() - t0
        summary.append(f"{name}: {'ok' if rc == 0 else f'failed ({rc})'} in {took:.0f} s")
        if rc != 0:
            failed.append(name)
    print("\n" + "\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
