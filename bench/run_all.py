"""Run every benchmark in bench/ in turn: ``make bench``, or ``.venv/bin/python -m bench.run_all``
(one of them: ``.venv/bin/python -m bench.bench_wards``).

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
        # As modules from the checkout, so that they find their shared helpers in bench/.
        result = subprocess.run(
            [sys.executable, "-m", f"bench.{script.stem}"], cwd=BENCH.parent, check=False
        )
        if result.returncode:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
