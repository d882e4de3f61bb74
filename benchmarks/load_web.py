"""Load test of the web page: N simultaneous uploads to ``d2m serve`` on this machine's loopback.

Starts ``d2m serve`` on 127.0.0.1 (a free port) as its own process, sends ``--uploads`` (default 8, at most 32)
requests at once through Gradio's client (the same upload + queue route the page uses), and prints the latency
percentiles, the throughput and the server's memory: resident size at idle and its peak (the kernel's VmHWM,
so no short spike is missed between samples). Everything is bounded: the count, and ``--time-limit`` seconds
for the whole run, after which the server is stopped and unfinished requests are reported as such.

    python benchmarks/load_web.py                         # 8 uploads of the demo, concurrency 1
    python benchmarks/load_web.py --concurrency 2 --json out.json
    python benchmarks/load_web.py --model path/to/generator.safetensors --video dance.mp4

Without ``--model`` the registered ``d2m-top`` is used when installed, else a tiny untrained model of the same
architecture (its speed is dominated by pose extraction, which does not depend on the weights).
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parents[1] / "src" / "dance2music" / "assets" / "demo.mp4"
MAX_UPLOADS = 32


def tiny_model(folder: Path) -> Path:
    """A tiny untrained D2M (real architecture), saved with its VQ-VAE like shipped weights."""
    import torch

    from dance2music.features.visual import FLOWGRID_DIM
    from dance2music.models.d2m import D2M, build_generator
    from dance2music.models.vqvae import VQVAE

    torch.manual_seed(0)
    vqvae = VQVAE.from_preset("tiny", downs_t=(5, 2))
    for block in vqvae.bottleneck:
        block.k.normal_()
    gen = build_generator("tiny", latent_dim=vqvae.emb_width, hop_length=128, visual_dim=FLOWGRID_DIM, noise_dim=2)
    model = D2M(gen, vqvae, vqvae_ref=str(vqvae.save(folder / "vqvae.safetensors")))
    gen.set_sigma_from_codebook(model.codebook)
    return model.save(folder / "tiny_d2m.safetensors")


def pick_model(arg: str | None, folder: Path) -> tuple[str, str]:
    if arg:
        return arg, arg
    from dance2music.errors import ModelError
    from dance2music.pretrained.registry import resolve

    try:
        resolve("d2m-top", kind="d2m")
        return "d2m-top", "d2m-top (shipped)"
    except ModelError:
        return str(tiny_model(folder)), "tiny untrained model (d2m-top is not installed)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0]) * 1024
    return out


def wait_ready(url: str, proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"d2m serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("d2m serve did not start in time")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uploads", type=int, default=8, help=f"simultaneous uploads (1..{MAX_UPLOADS}, default 8)")
    ap.add_argument("--concurrency", type=int, default=1, help="the server's --concurrency (default 1)")
    ap.add_argument("--queue-size", type=int, default=None, help="the server's --queue-size (default: --uploads)")
    ap.add_argument("--model", help="model name or path (default: d2m-top if installed, else a tiny one)")
    ap.add_argument("--video", type=Path, default=DEMO, help="video to upload (default: the bundled demo)")
    ap.add_argument("--time-limit", type=float, default=540.0, help="seconds for the whole run (default 540)")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    if not 1 <= args.uploads <= MAX_UPLOADS:
        ap.error(f"--uploads must be between 1 and {MAX_UPLOADS}")
    if not args.video.is_file():
        ap.error(f"no such video: {args.video}")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gradio_client import Client, handle_file

    t_start = time.monotonic()
    deadline = t_start + args.time_limit
    work = Path(tempfile.mkdtemp(prefix="d2m-load-"))
    model, model_note = pick_model(args.model, work)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"  # loopback only: the script never talks to another host
    cmd = [sys.executable, "-m", "dance2music", "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port),
           "--concurrency", str(args.concurrency), "--queue-size", str(args.queue_size or args.uploads)]  # fmt: skip
    log = open(work / "server.log", "w")  # noqa: SIM115 -- closed in finally
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    results: list[dict] = []
    samples: list[int] = []
    try:
        wait_ready(url, proc, deadline)
        startup = time.monotonic() - t_start
        idle = proc_memory(proc.pid)
        stop = threading.Event()

        def sample() -> None:  # RSS over time; the peak itself comes from VmHWM
            while not stop.is_set():
                try:
                    samples.append(proc_memory(proc.pid)["VmRSS"])
                except (OSError, KeyError):
                    return
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        client = Client(url, verbose=False, download_files=str(work / "downloads"), analytics_enabled=False)

        def one(i: int) -> dict:
            t0 = time.monotonic()
            try:
                out = client.predict(handle_file(str(args.video)), "top", "", i, api_name="/generate")
                status, video = out[0], out[1]
                path = video.get("video") if isinstance(video, dict) else video
                ok = bool(path) and Path(path).is_file() and "s of music" in status
                err = None if ok else status
            except Exception as e:  # a refused or failed request counts, it does not stop the run
                ok, err = False, f"{type(e).__name__}: {e}"
            return {"i": i, "ok": ok, "latency": time.monotonic() - t0, "error": err}

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.uploads) as pool:
            futures = [pool.submit(one, i) for i in range(args.uploads)]
            done, not_done = wait(futures, timeout=max(1.0, deadline - time.monotonic()))
            results = [f.result() for f in done]
            for f in not_done:
                f.cancel()
        wall = time.monotonic() - t0
        stop.set()
        peak = proc_memory(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)

    lat = np.array([r["latency"] for r in results if r["ok"]])
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        "model": model_note,
        "video": f"{args.video.name}",
        "uploads": args.uploads,
        "server_concurrency": args.concurrency,
        "ok": int(sum(r["ok"] for r in results)),
        "unfinished": args.uploads - len(results),
        "errors": sorted({r["error"] for r in results if not r["ok"]}),
        "startup_s": startup,
        "wall_s": wall,
        "latency_s": {f"p{q}": float(np.percentile(lat, q)) for q in (50, 90, 99)} if lat.size else {},
        "latency_min_max_s": [float(lat.min()), float(lat.max())] if lat.size else [],
        "throughput_per_min": 60.0 * lat.size / wall if wall > 0 else 0.0,
        "server_rss_idle_mb": idle["VmRSS"] / 2**20,
        "server_rss_peak_mb": peak["VmHWM"] / 2**20,
        "server_rss_sampled_max_mb": max(samples) / 2**20 if samples else None,
    }
    print(f"# d2m serve under load: {args.uploads} simultaneous uploads of {report['video']}")
    print(f"machine: {report['machine']}; model: {model_note}; server concurrency {args.concurrency}")
    print(f"ok {report['ok']}/{args.uploads}, unfinished {report['unfinished']}, startup {startup:.1f} s, "
          f"all done in {wall:.1f} s ({report['throughput_per_min']:.1f} videos/min)")  # fmt: skip
    if lat.size:
        p = report["latency_s"]
        print(f"latency: p50 {p['p50']:.1f} s, p90 {p['p90']:.1f} s, p99 {p['p99']:.1f} s "
              f"(min {lat.min():.1f} s, max {lat.max():.1f} s)")  # fmt: skip
    print(f"server memory: idle {report['server_rss_idle_mb']:.0f} MB, peak {report['server_rss_peak_mb']:.0f} MB")
    for e in report["errors"]:
        print(f"error: {e}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["ok"] == args.uploads else 1


if __name__ == "__main__":
    sys.exit(main())
