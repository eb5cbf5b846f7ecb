"""Peak memory and CPU of sanitising one uploaded photo, each upload in a fresh process.

Run: .venv/bin/python -m bench.bench_photos [--repeat 5] [--quick] [--before COMMIT] [--no-write]

Every repetition of every case runs ``sanitise_photo`` once in a new interpreter, after a
warm-up on three tiny images (so that Pillow's plugins are loaded, as in a web process that
has taken a photo before). The figure that counts is what the call adds to the process's peak
resident memory: its high-water mark (``VmHWM``, reset just before the call) less what was
resident before it, with the upload already read. Pillow's pixels live in C buffers that
``tracemalloc`` never sees. CPU is user + system time of the call (``getrusage``).

Compared in the same run: ``--before COMMIT`` measures that commit's ``sanitise_photo`` (its
``safer_streets`` package, taken with ``git archive``) on the same files; and, for the JPEGs,
the obvious Pillow code that decodes every pixel before shrinking (``baseline``).

Results go to bench/results/photos.json (every repetition, with min/median/max, the commit, the
machine and the load average); ``python -m bench.report`` makes bench/RESULTS.md's photo section
from it with ``render``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from bench.machine import description
from bench.results import CHECKOUT, RESULTS_DIR, commit
from safer_streets.intake.photos import DECODE_BUDGET, JPEG_QUALITY, MAX_EDGE, PEAK_MEMORY_BUDGET

RESULTS_JSON = RESULTS_DIR / "photos.json"
SEED = 20261124
MB = 1024 * 1024

# Run in each fresh interpreter: argv is the checkout whose code is measured, the upload, and
# which function. Prints one JSON line. The peak is the process's own high-water mark (VmHWM),
# reset just before the call: ``ru_maxrss`` (and so RUSAGE_CHILDREN) carries a parent's peak
# over into the child on Linux, which hid everything under this script's own ~1 GB.
CHILD = r"""
import io, json, resource, sys, time
code, upload, which = sys.argv[1:4]
sys.path.insert(0, code)
from PIL import Image
from safer_streets.intake.photos import PhotoRejected, sanitise_photo
if which == "baseline":
    from bench.bench_photos import baseline as run
else:
    run = sanitise_photo


def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field))


for fmt in ("JPEG", "PNG", "WEBP"):
    tiny = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiny, fmt)
    run(tiny.getvalue())
data = open(upload, "rb").read()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak (VmHWM) starts again from what is resident now
rss_before = status("VmRSS")
before = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
try:
    out = run(data)
    outcome = "accepted" if which == "baseline" else f"accepted, {out.width} × {out.height}"
except PhotoRejected as refused:
    outcome = "refused: " + refused.reason
except Exception as error:
    outcome = f"failed: {type(error).__name__}: {error}"
wall = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
peak = status("VmHWM")
print(json.dumps({
    "peak_added_bytes": peak - rss_before,
    "peak_rss_bytes": peak,
    "rss_before_bytes": rss_before,
    "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    "wall_s": wall,
    "outcome": outcome,
}))
"""


def textured(width: int, height: int, noise: float) -> np.ndarray:
    """Phone-like pixels (gradients and sensor noise), built in bands to spare memory."""
    rng = np.random.default_rng(SEED)
    pixels = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, 500):
        y, x = np.mgrid[top : min(height, top + 500), 0:width]
        base = np.stack([(x / width) * 200, (y / height) * 180, (x + y) % 255], axis=-1)
        pixels[top : top + 500] = np.clip(base + rng.normal(0, noise, base.shape), 0, 255)
    return pixels


def phone_jpeg(width: int, height: int, noise: float, quality: int, **extra: object) -> bytes:
    """A phone's JPEG: textured, with EXIF (maker, orientation, a GPS position)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (51.0, 26.0, 42.0), 3: "W", 4: (0.0, 1.0, 14.0)}
    out = io.BytesIO()
    Image.fromarray(textured(width, height, noise)).save(
        out, "JPEG", quality=quality, exif=exif.tobytes(), **extra
    )
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def transparent_png(width: int, height: int) -> bytes:
    """A valid RGBA PNG of transparent pixels: every pixel decodes, zlib packs them ~1000:1."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 4)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png_bomb(width: int, height: int) -> bytes:
    """The classic decompression bomb: a tiny PNG whose header claims a huge image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def webp(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 40, 40, 128)).save(out, "WEBP", lossless=True)
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], bytes]
    baseline: bool = False  # also time the decode-every-pixel baseline (safe for these only)


CASES = [
    Case("12 MP phone JPEG, 4032 × 3024", lambda: phone_jpeg(4032, 3024, 18, 92), True),
    Case("48 MP phone JPEG, 8000 × 6000", lambda: phone_jpeg(8000, 6000, 6, 85), True),
    Case("7000 × 7000 RGBA PNG", lambda: transparent_png(7000, 7000)),
    Case("decompression bomb: PNG header of 20000 × 20000", lambda: png_bomb(20_000, 20_000)),
    Case("largest PNG accepted: 5000 × 5000 RGBA", lambda: transparent_png(5000, 5000)),
    Case("largest WebP accepted: 2449 × 2449", lambda: webp(2449, 2449)),
    Case(
        "largest progressive JPEG accepted: 5770 × 4330",
        lambda: phone_jpeg(5770, 4330, 4, 80, progressive=True),
    ),
    Case(
        "48 MP progressive JPEG, 8000 × 6000",
        lambda: phone_jpeg(8000, 6000, 6, 85, progressive=True),
    ),
]


def baseline(data: bytes) -> object:
    """The obvious Pillow code: decode every pixel, turn, shrink to MAX_EDGE and save."""
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened.convert("RGB"))
    image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return image


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=CHECKOUT, capture_output=True, text=True, check=True
    ).stdout.strip()


def export_commit(commit: str, into: Path) -> Path:
    """The ``safer_streets`` package as it was at ``commit``, to measure the code before."""
    archive = subprocess.run(
        ["git", "archive", commit, "safer_streets"], cwd=CHECKOUT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(code: Path, upload: Path, which: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(code), str(upload), which],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def run_cases(
    code: Path, uploads: dict[str, Path], which: str, repeat: int, only_baseline: bool = False
) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for case in CASES:
        if only_baseline and not case.baseline:
            continue
        runs = [measure(code, uploads[case.name], which) for _ in range(repeat)]
        outcomes = sorted({str(run["outcome"]) for run in runs})
        results[case.name] = {
            "outcome": outcomes[0] if len(outcomes) == 1 else outcomes,
            "peak_added_bytes": summary([float(run["peak_added_bytes"]) for run in runs]),
            "cpu_s": summary([float(run["cpu_s"]) for run in runs]),
            "wall_s": summary([float(run["wall_s"]) for run in runs]),
            "runs": runs,
        }
        peak = results[case.name]["peak_added_bytes"]["median"] / MB  # type: ignore[index]
        cpu = results[case.name]["cpu_s"]["median"]  # type: ignore[index]
        print(f"  {which:>8} | {case.name}: {peak:.0f} MB, {cpu * 1000:.0f} ms CPU", flush=True)
    return results


def _figure(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def _mb(summary_bytes: dict[str, float]) -> str:
    low, mid, high = (_figure(summary_bytes[k] / MB) for k in ("min", "median", "max"))
    return f"{mid} MB ({low}–{high})"


def _process_peak(case: dict[str, object]) -> str:
    """The median of the whole process's peak: interpreter, app and Pillow included."""
    runs = case["runs"]
    assert isinstance(runs, list)
    return f"{statistics.median(run['peak_rss_bytes'] for run in runs) / MB:,.0f} MB"


def _ms(summary_s: dict[str, float]) -> str:
    low, mid, high = (_figure(summary_s[k] * 1000) for k in ("min", "median", "max"))
    return f"{mid} ms ({low}–{high})"


def render(results: dict[str, object]) -> str:
    """The photo section of RESULTS.md, from bench/results/photos.json."""
    after = results["sanitise_photo"]
    before = results.get("before")
    base = results.get("baseline")
    assert isinstance(after, dict)
    load = results.get("load_average", {})
    lines = [
        f"## Photos — `bench/bench_photos.py` ({results['date']})",
        "",
        f"Commit `{results['commit']}`; {results['machine']}"
        + (
            f"; load average (1 min) {load['start'][0]:.2f} at the start, "
            f"{load['end'][0]:.2f} at the end"
            if load
            else ""
        )
        + f". Each upload sanitised once in a "
        f"fresh process, {results['repeat']} times: what the call adds to the process's peak "
        "resident memory (`VmHWM` reset before the call, less `VmRSS`), and its CPU time "
        "(user + system); median (min–max). "
        f"Budget: {PEAK_MEMORY_BUDGET // MB} MB a photo, of which decoding "
        f"{DECODE_BUDGET // MB} MB estimated from the header. "
        + (
            f"Before: `sanitise_photo` at commit `{results['before_commit']}`, on the same "
            "files in the same run."
            if before
            else ""
        ),
        "",
        "| Upload | Size | Outcome | Peak memory added | Process peak | CPU |"
        + (" Before | Before: peak added | Before: process peak | Before: CPU |" if before else ""),
        "|---|---|---|---|---|---|" + ("---|---|---|---|" if before else ""),
    ]
    for name, case in after.items():
        row = (
            f"| {name} | {_figure(case['bytes'] / 1000)} KB | {case['outcome']} | "
            f"{_mb(case['peak_added_bytes'])} | {_process_peak(case)} | {_ms(case['cpu_s'])} |"
        )
        if isinstance(before, dict):
            old = before[name]
            row += (
                f" {str(old['outcome']).split(':')[0]} | {_mb(old['peak_added_bytes'])} | "
                f"{_process_peak(old)} | {_ms(old['cpu_s'])} |"
            )
        lines.append(row)
    if isinstance(base, dict) and base:
        lines += [
            "",
            "Baseline, decoding every pixel first (Pillow's defaults, then `thumbnail`), in the "
            "same run:",
            "",
            "| Upload | Peak memory added | CPU |",
            "|---|---|---|",
        ]
        lines += [
            f"| {name} | {_mb(case['peak_added_bytes'])} | {_ms(case['cpu_s'])} |"
            for name, case in base.items()
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 repetitions")
    parser.add_argument("--before", metavar="COMMIT", help="also measure this commit's code")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 2)

    measured_at = commit()
    print(f"machine: {description()}\ncommit: {measured_at}", flush=True)
    load_start = list(os.getloadavg())
    with tempfile.TemporaryDirectory() as scratch:
        uploads: dict[str, Path] = {}
        sizes: dict[str, int] = {}
        for number, case in enumerate(CASES):
            data = case.make()
            uploads[case.name] = Path(scratch) / f"upload-{number}"
            uploads[case.name].write_bytes(data)
            sizes[case.name] = len(data)
        results: dict[str, object] = {
            "name": "photos",
            "benchmark": "bench/bench_photos.py",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": measured_at,
            "machine": description(),
            "arguments": dict(vars(args)),
            "load_average": {"start": load_start},
            "repeat": args.repeat,
            "peak_memory_budget_bytes": PEAK_MEMORY_BUDGET,
            "decode_budget_bytes": DECODE_BUDGET,
        }
        after = run_cases(CHECKOUT, uploads, "sanitise", args.repeat)
        for name, case_results in after.items():
            case_results["bytes"] = sizes[name]
        results["sanitise_photo"] = after
        if args.before:
            before_code = export_commit(args.before, Path(scratch) / "before")
            results["before_commit"] = git("rev-parse", "--short", args.before)
            results["before"] = run_cases(before_code, uploads, "before", args.repeat)
        results["baseline"] = run_cases(
            CHECKOUT, uploads, "baseline", args.repeat, only_baseline=True
        )
    over = [
        name
        for name, case in after.items()
        if case["peak_added_bytes"]["max"] > PEAK_MEMORY_BUDGET  # type: ignore[index]
    ]
    if over:
        print(f"OVER THE {PEAK_MEMORY_BUDGET // MB} MB BUDGET: {', '.join(over)}")
    results["load_average"]["end"] = list(os.getloadavg())  # type: ignore[index]
    if not args.no_write:
        RESULTS_JSON.parent.mkdir(exist_ok=True)
        RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS_JSON.relative_to(CHECKOUT)}")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
