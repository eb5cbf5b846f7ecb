"""The photo sanitiser: only real images, re-encoded, with nothing but pixels kept."""

from __future__ import annotations

import io
import socket
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from safer_streets.intake.photos import (
    MAX_EDGE,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
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


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be huge: the classic decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


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
def test_decompression_bombs_are_refused_before_decoding(width, height):
    bomb = png_header_only(width, height)
    assert len(bomb) < 200
    with pytest.raises(PhotoRejected) as refused:
        sanitise_photo(bomb)
    assert f"{MAX_PIXELS // 1_000_000} megapixels" in refused.value.reason


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
