"""What machine a benchmark ran on, for the figures' context."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The processor's name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def description() -> str:
    """One line describing where the figures were measured."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
