"""The photo sanitiser: only real images, re-encoded, with nothing but pixels kept."""

from __future__ import annotations

import io
import os
import socket
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from safer_streets.intake.photos import (
    MAX_EDGE,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    PEAK_MEMORY_BUDGET,
    PhotoRejected,
    PhotoStash,
    sanitise_photo,
)
from safer_streets.redis_client import make_redis

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def jpeg(
    size=(800, 600), colour=(200, 40, 40), *, exif: Image.Exif | None = None, **extra
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", exif=exif.tobytes() if exif else b"", **extra)
    return out.getvalue()


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (51.0, 26.0, 42.0), 3: "W", 4: (0.0, 1.0, 14.0)}
    return exif


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be huge: the classic decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def transparent_png(width: int, height: int) -> bytes:
    """A whole, valid RGBA PNG of transparent pixels, compressed row by row in little memory.

    Every pixel is there to decode: zlib packs the zeros about a thousand to one.
    """
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 4)  # filter byte, then the pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int, frame: int = 0xC0) -> bytes:
    """A small real JPEG whose frame header is changed to claim another size or kind."""
    data = bytearray(jpeg(size=(64, 48)))
    sof = data.index(b"\xff\xc0")
    data[sof + 1] = frame
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture
def nothing_decoded(monkeypatch):
    """Fails the test if any image's pixels are decoded."""

    def load(self):
        raise AssertionError(f"{self.format} {self.size} was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_gps_and_every_other_piece_of_metadata_is_gone_from_the_bytes():
    original = jpeg(
        exif=gps_exif(), comment=b"taken outside 12 Acacia Road", icc_profile=b"", dpi=(300, 300)
    )
    assert b"Exif" in original and b"PhoneMaker" in original and b"Acacia" in original

    photo = sanitise_photo(original)

    assert photo.data.startswith(b"\xff\xd8") and photo.content_type == "image/jpeg"
    assert b"Exif" not in photo.data  # no APP1 EXIF segment, so no GPS IFD
    assert b"PhoneMaker" not in photo.data
    assert b"Acacia" not in photo.data
    assert b"http://ns.adobe.com/xap/" not in photo.data  # no XMP
    reopened = Image.open(io.BytesIO(photo.data))
    assert not reopened.getexif()
    assert GPS_IFD not in reopened.getexif()


def test_the_photo_is_turned_the_right_way_up_before_the_orientation_tag_is_dropped():
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the camera was held on its side
    photo = sanitise_photo(jpeg(size=(800, 600), exif=exif))
    assert (photo.width, photo.height) == (600, 800)


def test_a_large_photo_is_stored_at_a_bounded_size():
    photo = sanitise_photo(jpeg(size=(4000, 3000)))
    assert max(photo.width, photo.height) == MAX_EDGE
    assert len(photo.data) < 500_000


def test_png_with_transparency_becomes_a_jpeg_on_white():
    out = io.BytesIO()
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(out, "PNG")
    photo = sanitise_photo(out.getvalue())
    assert photo.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(photo.data)).getpixel((20, 20))[0] > 240


def test_a_text_file_named_jpg_is_refused_saying_it_is_not_an_image():
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(b"Just some notes saved as photo.jpg\n" * 20)
    assert "not an image" in refused.value.reason
    assert refused.value.field_errors == {"photo": refused.value.reason}


@pytest.mark.parametrize(
    ("width", "height"),
    [(8_000, 8_000), (20_000, 20_000), (65_000, 65_000)],
    ids=["over our limit", "over Pillow's warning", "over Pillow's error"],
)
def test_decompression_bombs_are_refused_before_decoding(width, height, nothing_decoded):
    bomb = png_header_only(width, height)
    assert len(bomb) < 200
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(bomb)
    assert f"{MAX_PIXELS // 1_000_000} megapixels" in refused.value.reason


def test_a_small_png_of_7000_by_7000_pixels_is_refused_before_decoding(nothing_decoded):
    # About 190 KB that decodes to 196 MB of pixels: it took 885 MB at peak before the limit.
    png = transparent_png(7000, 7000)
    assert len(png) < 200_000
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(png)
    assert refused.value.reason == (
        "the photo is too large: 7000 × 7000 pixels is 49.0 megapixels, "
        "and a PNG like this one can be at most 25 megapixels"
    )


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (
            9_000,
            7_000,
            "the photo is too large: 9000 × 7000 pixels is 63.0 megapixels, "
            "and the limit is 50 megapixels",
        ),
        # Pillow itself refuses as it opens a file over its own limit (89 megapixels).
        (65_000, 60_000, "the photo is too large: the limit is 50 megapixels"),
    ],
    ids=["over our limit", "over Pillow's"],
)
def test_a_jpeg_header_claiming_a_huge_size_is_refused_before_decoding(
    width, height, reason, nothing_decoded
):
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(jpeg_claiming(width, height))
    assert refused.value.reason == reason


def test_a_lossless_jpeg_is_refused_before_decoding(nothing_decoded):
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(jpeg_claiming(64, 48, frame=0xC3))
    assert refused.value.reason.startswith("a lossless JPEG is not a photo we can take")


def test_a_48_megapixel_phone_photo_is_accepted_and_turned_the_right_way_up():
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    photo = sanitise_photo(jpeg(size=(8000, 6000), exif=exif, quality=80))
    assert (photo.width, photo.height) == (1200, 1600)


def test_a_progressive_jpeg_is_refused_when_its_coefficients_would_not_fit():
    # Decoded scan by scan, it holds 6 bytes a pixel at 4:4:4 until the last scan: 95 MB here.
    big = jpeg(size=(4600, 3450), progressive=True, subsampling=0, quality=90)
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(big)
    assert "a progressive JPEG like this one can be at most 14 megapixels" in refused.value.reason
    small = sanitise_photo(jpeg(size=(3000, 2000), progressive=True, subsampling=0))
    assert (small.width, small.height) == (1600, 1067)


def test_a_heic_photo_is_refused_saying_heic_is_not_accepted():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(heic)
    assert refused.value.reason.startswith("HEIC and AVIF photos are not accepted yet")
    assert "Most Compatible" in refused.value.reason


def pattern(width: int, height: int, mode: str) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    alpha = np.where((x // 97) % 2 == 0, 255, 60)
    pixels = np.stack([(x * 7 + y) % 256, (x ^ y) % 256, (y * 3) % 256, alpha], axis=-1)
    image = Image.fromarray(pixels.astype(np.uint8), "RGBA")
    return image if mode == "RGBA" else image.quantize(64)


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [(3300, 2100, "RGBA"), (1650, 3300, "RGBA"), (20_000, 300, "RGBA"), (3500, 2500, "P")],
)
def test_a_transparent_image_shrunk_in_tiles_is_exactly_as_if_shrunk_whole(width, height, mode):
    image = pattern(width, height, mode)
    if mode == "P":
        image.info["transparency"] = 0
    upload = io.BytesIO()
    image.save(upload, "PNG", compress_level=1)

    photo = sanitise_photo(upload.getvalue())

    rgba = Image.open(io.BytesIO(upload.getvalue())).convert("RGBA")
    whole = Image.new("RGB", image.size, (255, 255, 255))
    whole.paste(rgba, mask=rgba.getchannel("A"))
    whole.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS, reducing_gap=1.0)
    expected = io.BytesIO()
    whole.save(expected, "JPEG", quality=82, optimize=True, progressive=True)
    assert (photo.width, photo.height) == whole.size
    assert photo.data == expected.getvalue()


PEAK_RSS = textwrap.dedent(
    """
    import sys
    from safer_streets.intake.photos import sanitise_photo

    def status(field):
        with open("/proc/self/status") as lines:
            return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field))

    data = open(sys.argv[1], "rb").read()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the high-water mark: ru_maxrss would carry pytest's over
    before = status("VmRSS")
    photo = sanitise_photo(data)
    print(status("VmHWM") - before, photo.width, photo.height)
    """
)


def peak_memory(tmp_path: Path, name: str, data: bytes) -> int:
    """Bytes sanitising ``data`` adds to a fresh process's peak resident memory."""
    upload = tmp_path / name
    upload.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(upload)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    return int(result.stdout.split()[0])


def test_the_largest_photos_accepted_stay_within_the_memory_budget(tmp_path):
    webp = io.BytesIO()
    Image.new("RGBA", (2449, 2449), (200, 40, 40, 128)).save(webp, "WEBP", lossless=True)
    largest = {
        "48 MP phone JPEG": jpeg(size=(8000, 6000), quality=80),
        "25 MP transparent PNG": transparent_png(5000, 5000),
        "6 MP WebP": webp.getvalue(),
    }
    peaks = {name: peak_memory(tmp_path, name, data) for name, data in largest.items()}
    assert all(peak <= PEAK_MEMORY_BUDGET for peak in peaks.values()), peaks


def test_a_truncated_image_is_refused_as_damaged():
    whole = jpeg(size=(1200, 900))
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(whole[: len(whole) // 2])
    assert "damaged or incomplete" in refused.value.reason


def test_an_oversized_file_is_refused_naming_the_limit():
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(b"\xff\xd8" + b"\x00" * MAX_UPLOAD_BYTES)
    assert "the limit is 10.0 MB" in refused.value.reason


def test_an_empty_file_is_refused():
    with pytest.raises(PhotoRejected, match="empty"):
        sanitise_photo(b"")


def test_a_gif_is_refused_even_though_pillow_could_read_it():
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    with pytest.raises(PhotoRejected, match="JPEG, PNG or WebP"):
        sanitise_photo(out.getvalue())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_either_a_clean_jpeg_or_refused_with_a_reason(data):
    try:
        photo = sanitise_photo(data)
    except PhotoRejected as refused:
        assert refused.reason
    else:
        assert photo.data.startswith(b"\xff\xd8") and b"Exif" not in photo.data


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=1, max_value=300),
    st.sampled_from(["JPEG", "PNG", "WEBP"]),
    st.integers(min_value=1, max_value=400),
)
def test_corrupting_any_real_image_never_crashes_the_sanitiser(width, height, fmt, cut):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, fmt)
    data = out.getvalue()
    damaged = data[: max(1, len(data) - cut)]
    try:
        photo = sanitise_photo(damaged)
    except PhotoRejected as refused:
        assert refused.reason
    else:
        assert photo.width <= MAX_EDGE and photo.height <= MAX_EDGE


def test_without_redis_a_photo_is_simply_not_kept_between_steps():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    stash = PhotoStash(make_redis(f"redis://127.0.0.1:{closed_port}/0"))
    photo = sanitise_photo(jpeg())
    assert stash.put("form-1", photo) is False
    assert stash.get("form-1") is None
    stash.drop("form-1")  # no error either
