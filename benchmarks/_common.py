"""What several benchmarks share (imported as ``_common``: a benchmark runs with this folder first on its path)."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``ru_maxrss``, which Linux reports in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
