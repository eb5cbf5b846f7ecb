"""Run every benchmark, then make bench/RESULTS.md from their results files.

``make bench`` (``python -m bench.run_all``) runs each at full size; ``make bench-quick``
(``python -m bench.run_all --quick``) passes ``--quick`` to each, to fit in about ten minutes.
One benchmark failing does not stop the others: the exit status is 1 at the end, with the
failures listed. ``--only wards reroute`` runs just those.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.results import CHECKOUT

# In the order they run: the cheap ones first, so that a late failure costs the least.
BENCHMARKS = (
    "wards",
    "worker_batch",
    "geocode",
    "hotspots",
    "photos",
    "nearby",
    "reroute",
    "open311",
    "alerts",
    "triage_queue",
    "inspector",
    "board",
    "intake",
    "chaos",
)
# Too long for the ten minutes of a quick run even when made smaller.
FULL_ONLY = ("board",)
# The photo figures also show the code before uploads had a memory budget (README quotes both).
# The queue's million reports take minutes to make: kept and used again by later runs.
# Alerts' ratio needs the statement without its index, timed in the same run.
EXTRA_ARGUMENTS = {
    "alerts": ["--baseline"],
    "photos": ["--before", "0c4af1a"],
    "triage_queue": ["--reuse"],
    "inspector": ["--reuse"],
}


def main() -> int:
    """Run the benchmarks (each in its own interpreter), then the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS)
    args = parser.parse_args()

    failed: list[str] = []
    for name in args.only:
        if args.quick and name in FULL_ONLY:
            print(f"\n######## bench_{name}: skipped in a quick run", flush=True)
            continue
        command = [
            sys.executable,
            "-m",
            f"bench.bench_{name}",
            *(["--quick"] if args.quick else []),
            *EXTRA_ARGUMENTS.get(name, []),
        ]
        print(f"\n######## {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        # As modules from the checkout, so that they find their shared helpers in bench/.
        status = subprocess.run(command, cwd=CHECKOUT, check=False).returncode
        print(f"######## bench_{name}: exit {status}, {time.monotonic() - started:.0f} s")
        if status:
            failed.append(f"bench_{name} (exit {status})")
    if subprocess.run([sys.executable, "-m", "bench.report"], cwd=CHECKOUT, check=False).returncode:
        failed.append("bench.report")
    if failed:
        print("\nFAILED: " + ", ".join(failed))
        return 1
    print("\nevery benchmark ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
