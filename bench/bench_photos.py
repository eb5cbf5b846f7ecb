"""Time the photo sanitiser on a 12-megapixel phone photo against a full-decode baseline.

Run: .venv/bin/python -m bench.bench_photos

The photo is synthetic but phone-like: 4032 × 3024, textured (so it weighs what a real one
does), JPEG quality 92, with EXIF including a GPS position. The baseline, measured in the same
run on the same bytes, is the obvious Pillow code: decode every pixel, apply the orientation,
shrink to 1600 px and save. ``sanitise_photo`` lets the JPEG decoder scale down while decoding
(``Image.draft``) and adds the content, size and bomb checks.
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import time

import numpy as np
from PIL import Image, ImageOps

from safer_streets.intake.photos import JPEG_QUALITY, MAX_EDGE, sanitise_photo

SEED = 20261124
ROUNDS = 7


def phone_photo() -> bytes:
    rng = np.random.default_rng(SEED)
    height, width = 3024, 4032
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x / width) * 200, (y / height) * 180, ((x + y) % 255)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 18, (height, width, 3)), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (51.0, 26.0, 42.0), 3: "W", 4: (0.0, 1.0, 14.0)}
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def baseline(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened.convert("RGB"))
    image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def timed(fn, data: bytes) -> float:
    runs = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn(data)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    data = phone_photo()
    photo = sanitise_photo(data)
    ours = timed(sanitise_photo, data)
    theirs = timed(baseline, data)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"input: 4032 x 3024 JPEG, {len(data) / 1e6:.1f} MB, with EXIF GPS")
    print(
        f"output: {photo.width} x {photo.height} JPEG, {len(photo.data) / 1e3:.0f} KB, "
        f"EXIF kept: {b'Exif' in photo.data}"
    )
    print(f"sanitise_photo (median of {ROUNDS}): {ours * 1000:.0f} ms")
    print(f"baseline full decode (median of {ROUNDS}): {theirs * 1000:.0f} ms")
    print(f"ratio baseline / sanitise_photo: {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
