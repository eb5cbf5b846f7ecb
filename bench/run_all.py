"""Run every benchmark in bench/ in turn: ``make bench`` (or one file: ``python bench/FILE.py``).

Each benchmark prints its own machine description and its ratio against a baseline measured in
the same run; results worth keeping are copied into bench/RESULTS.md with the date.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> int:
    """Run each bench_*.py with this interpreter; stop at the first failure."""
    for script in sorted(BENCH.glob("bench_*.py")):
        print(f"\n######## {script.name}", flush=True)
        result = subprocess.run([sys.executable, str(script)], check=False)
        if result.returncode:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
