"""``d2m serve``: start the web page: upload a dance video, get it back with its music.

Start a local web page where a dance video (or the bundled demo) is turned into the same video with music made for
it, with downloads and a beat-alignment plot. Listens on 127.0.0.1 (this machine only) unless --host says otherwise.
Stop it with Ctrl-C; it then deletes every file it stored.
"""

from __future__ import annotations

import argparse

from . import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, __name__, run)
    p.add_argument(
        "--model",
        action="append",
        metavar="NAME_OR_PATH",
        help="model to serve (registered name or generator .safetensors path); repeat it to offer both levels "
        "(default: d2m-top and d2m-lower, those that are installed)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="largest accepted upload in MB (default 200)")
    p.add_argument("--max-seconds", type=float, default=120.0, help="longest accepted video in seconds (default 120)")
    p.add_argument("--concurrency", type=int, default=1, help="videos processed at once; others queue (default 1)")
    p.add_argument("--queue-size", type=int, default=8, help="requests that may wait in the queue (default 8)")
    p.add_argument(
        "--keep-minutes", type=float, default=30.0, help="delete uploads and results older than this (default 30)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")


def run(args: argparse.Namespace) -> int:
    from ..web.app import ServeConfig, load_models, serve
    from ..web.service import Limits

    # Check every option before loading a model or importing the web framework.
    config = ServeConfig(
        host=args.host,
        port=args.port,
        limits=Limits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_seconds=args.max_seconds),
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        keep_minutes=args.keep_minutes,
    )
    models = load_models(args.model, device=args.device)
    levels = ", ".join(f"{lvl}: {m.name}" for lvl, m in models.items())
    print(f"serving {levels} on http://{config.host}:{config.port} (Ctrl-C to stop)", flush=True)
    serve(models, config)
    return 0
