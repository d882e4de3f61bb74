"""dance2music: turn a dance video into music that fits it (D2M-GAN, Zhu et al., ECCV 2022).

The heavy parts (torch models, video decoding, pose) are imported lazily so that `import dance2music`
stays cheap; see `dance2music.api` for the high-level entry point.
"""

__version__ = "0.1.0"

__all__ = ["Dance2Music", "__version__"]


def __getattr__(name: str):
    if name == "Dance2Music":
        from .api import Dance2Music

        return Dance2Music
    raise AttributeError(f"module 'dance2music' has no attribute {name!r}")
