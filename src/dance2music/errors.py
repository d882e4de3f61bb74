"""User-facing errors.

Anything the user can cause (a wrong path, a file that is not a video, a video with no person ...) raises a
`D2MError` subclass with a one-line message. The CLI prints ``error: <message>`` to stderr and exits non-zero
(`exit_code`); it never shows a traceback for these. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations


class D2MError(Exception):
    """Base class: a problem with the user's input or environment, reported in one line."""

    exit_code = 1

    def __str__(self) -> str:  # keep it one line whatever the caller passed
        return " ".join(super().__str__().split())


class InputError(D2MError):
    """A path that is missing, unreadable, or not the kind of file expected."""

    exit_code = 2


class VideoError(InputError):
    """A file that cannot be decoded as a video (corrupt, truncated, zero frames, audio only)."""


class NoPersonError(D2MError):
    """No person was found in (enough of) the video to extract a dance."""

    exit_code = 3


class ConfigError(D2MError):
    """A bad configuration value or option combination."""

    exit_code = 2


class ModelError(D2MError):
    """A model file or name that cannot be loaded (unknown name, wrong checksum, wrong format)."""

    exit_code = 4


class Stopped(KeyboardInterrupt):
    """A long job stopped cleanly on request (Ctrl-C or SIGTERM) with its state saved: not an error.

    A `KeyboardInterrupt`, so that code which catches interrupts still sees it; the CLI prints its message
    (without ``error:``) and exits 130, the usual status of a program stopped by Ctrl-C, so that a script or a
    scheduler can tell it from a finished job.
    """

    def __str__(self) -> str:
        return " ".join(super().__str__().split())
