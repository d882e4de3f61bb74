"""The ``d2m`` command line: a thin layer over the library.

Each subcommand lives in its own module of this package, exposing ``register(subparsers)`` that adds its
parser (`add_command`, which takes its help and description from the module's docstring) and sets ``func`` to a
function ``(args) -> int``. Library errors (`D2MError`) become one line on
stderr and a non-zero exit; set ``D2M_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# OpenMP threads that spin while they wait steal the other core from MediaPipe, the video decoder and the
# other thread (up to 15x slower decoding measured on a busy 2-core machine); set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .. import __version__
from ..errors import D2MError, Stopped

#: Subcommand modules, in the order `d2m --help` lists them.
COMMANDS: tuple[str, ...] = ("generate", "data", "demo", "evaluate", "features", "serve", "train", "ship")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="d2m",
        description="dance2music: turn a dance video into music that fits it.",
    )
    parser.add_argument("--version", action="version", version=f"dance2music {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def add_command(subparsers: argparse._SubParsersAction, module: str, func=None, **defaults) -> argparse.ArgumentParser:
    """Add the subcommand of this package's module ``module`` (its ``__name__``) as its docstring says it: the
    first line is ``d2m NAME``: then the help (a final period dropped), the paragraph after it (if any) the
    description; later paragraphs are for the code's reader. Without ``func`` the command prints its help."""
    head, _, body = sys.modules[module].__doc__.partition("\n\n")
    help_text = " ".join(head.split(": ", 1)[1].split()).removesuffix(".")
    description = " ".join(body.split("\n\n")[0].split()) or None
    p = subparsers.add_parser(module.rpartition(".")[2], help=help_text, description=description)
    p.set_defaults(func=func or (lambda args: (p.print_help(), 2)[1]), **defaults)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    debug = os.environ.get("D2M_DEBUG", "") not in ("", "0")
    try:
        rc = int(args.func(args) or 0)
    except D2MError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except Stopped as e:  # a clean stop on request, its state saved (`d2m train`): said as such, not an error
        print(str(e), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # an unexpected failure: still one line, with the way to see more
        if debug:
            raise
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"error: internal error ({type(e).__name__}): {msg} (set D2M_DEBUG=1 for details)", file=sys.stderr)
        return 70
    if argv is None and getattr(args, "quick_exit", False):
        # Run as the `d2m` program, a command that leaves nothing open once it returns (its outputs are
        # written and closed) skips the interpreter's teardown of torch and MediaPipe: 0.9-2.4 s measured
        # after a `d2m generate`, which takes about 15 s for 30 s of 720p video.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
