"""CPU load for the benchmarks' ``--busy`` mode: every core kept busy by processes of its own.

The bot then gets the CPU in slices, as on a loaded server: requests leave late and in bunches,
which is what pacing must withstand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def busy_cores(count: int | None = None) -> Iterator[int]:
    """``count`` (default: every core) processes spinning until the block ends; yields how many."""
    count = count or os.cpu_count() or 1
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield count
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
