"""Residents' photos: checked by content, re-encoded without metadata, shown only where allowed.

The uploaded file is never stored. It is decoded by Pillow (which refuses anything that is not
really an image), shrunk, its orientation applied, then re-encoded as a fresh JPEG at a bounded
size: EXIF (with any GPS position), XMP, IPTC, comments and thumbnails do not survive, because
nothing is copied across but pixels.

Each photo is kept within a memory budget (``PEAK_MEMORY_BUDGET``). What decoding will cost is
worked out from the header before a pixel is decoded, and an image that would cost more is
refused saying how many megapixels that kind of image may have. A JPEG is decoded at a reduced
scale (``draft``); any other image is flattened and reduced a tile at a time, so that no
full-size copy of the decoded image is ever made.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from PIL import ExifTags, Image, ImageCms, JpegImagePlugin, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from safer_streets.disclosure.policy import Audience, disclose
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import Report, ReportEvent, ReportPhoto, User

logger = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_UPLOAD_BYTES = 10 * MB
# 50 megapixels covers phone cameras' JPEGs up to their 50 MP modes (a 200 MP one is over
# 10 MB anyway); beyond it a small file is a decompression bomb.
MAX_PIXELS = 50_000_000
# The stored photo's longest side: enough to see a broken light or a dumped sofa.
MAX_EDGE = 1600
JPEG_QUALITY = 82
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
ACCEPTED_WORDS = "a JPEG, PNG or WebP photo"

# What one photo may add to a web process's memory at its peak, the upload's own bytes aside.
# The web runs two processes of eight threads on two cores: without a bound, one 186 KB PNG of
# 7000 × 7000 pixels took 885 MB. bench/bench_photos.py measures it for each kind of upload.
PEAK_MEMORY_BUDGET = 150 * MB
# Of which decoding may take this much, estimated from the header (``_Decoding.cost``); the
# rest covers reducing in tiles, the last resize and the encoder.
DECODE_BUDGET = 96 * MB
# Photos decoded at once in one process: two cores decode no faster with more, and each one
# decoding holds up to ``PEAK_MEMORY_BUDGET``. Other requests with a photo wait their turn.
DECODES_AT_ONCE = 2
_decoding_slots = threading.BoundedSemaphore(DECODES_AT_ONCE)
# A decoded image that needs converting is flattened and reduced in tiles this many pixels
# across (4 MB at four bytes a pixel).
TILE_EDGE = 1024
# Shrinking is Pillow's two steps: an average over whole blocks of pixels, then Lanczos over
# the last ratio, below this gap. Pillow's thumbnails use 2; 1 keeps the reduced image under
# twice the stored size each way (a quarter of the memory), and the stored photos measured as
# close to a one-step Lanczos resize as before (PSNR within 0.5 dB on a 12 MP JPEG and PNG).
REDUCING_GAP = 1.0

# libwebp decodes into a canvas, keeps the previous canvas for animation, and hands Pillow a
# copy that is then unpacked into the image: four copies of each pixel at four bytes (measured:
# 16.5 bytes per pixel for a 4000 × 4000 WebP).
WEBP_BYTES_PER_PIXEL = 16
# A JPEG decoded scan by scan (progressive, or one component per scan) holds every DCT
# coefficient of the whole image until its last scan: 64 coefficients of 2 bytes per block.
JPEG_BLOCK_BYTES = 128
_PROGRESSIVE_SOF = {0xC2, 0xC6, 0xCA, 0xCE}
_LOSSLESS_SOF = {0xC3, 0xC7, 0xCB, 0xCF}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
Box = tuple[float, float, float, float]
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class PhotoRejected(InvalidInput):
    """The upload is not a photo we will take; the message says why, for the ``photo`` field."""

    def __init__(self, reason: str) -> None:
        super().__init__({"photo": reason}, f"The photo was refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class SanitisedPhoto:
    """A re-encoded photo ready to store: no metadata, bounded size."""

    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_large(width: int, height: int, limit: str) -> PhotoRejected:
    return PhotoRejected(
        f"the photo is too large: {width} × {height} pixels is "
        f"{width * height / 1_000_000:.1f} megapixels, and {limit}"
    )


def _fitted_size(width: int, height: int) -> tuple[int, int]:
    """The stored photo's size: the whole photo within ``MAX_EDGE``, its shape kept."""
    scale = MAX_EDGE / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _bytes_per_pixel(mode: str) -> int:
    """What Pillow keeps per pixel of an image in ``mode`` (three bands take four bytes)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def _jpeg_layout(data: bytes) -> tuple[int, int]:
    """The JPEG's frame marker (SOFn) and how many components its first scan carries.

    Pillow reads neither, and libjpeg decides from them whether to keep every coefficient of
    the whole image until the last scan. (0, 0) when no scan is found.
    """
    pos, frame = 2, 0
    while pos + 4 < len(data):
        if data[pos] != 0xFF:
            pos += 1  # stray bytes between segments, which decoders skip as well
            continue
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1  # fill byte
        elif marker in (0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2  # markers without a length
        elif marker == 0xDA:
            return frame, data[pos + 4]
        else:
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                frame = marker
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return frame, 0


def _coefficient_bytes(width: int, height: int, sampling: tuple[tuple[int, int], ...]) -> int:
    """The whole-image coefficient buffers libjpeg allocates for a multi-scan JPEG."""
    max_h = max(h for h, _ in sampling)
    max_v = max(v for _, v in sampling)
    total = 0
    for h, v in sampling:
        # Blocks per component, rounded up to whole MCUs as libjpeg's arrays are (jdcoefct.c).
        across = math.ceil(math.ceil(width * h / (max_h * 8)) / h) * h
        down = math.ceil(math.ceil(height * v / (max_v * 8)) / v) * v
        total += across * down * JPEG_BLOCK_BYTES
    return total


def _jpeg_scale(width: int, height: int) -> int:
    """The DCT scale a JPEG is decoded at: the smallest still giving the stored size.

    1, 2, 4 or 8, picked as Pillow's ``JpegImageFile.draft`` picks it for ``_fitted_size``.
    """
    fitted_width, fitted_height = _fitted_size(width, height)
    most = min(width // fitted_width, height // fitted_height)
    return next(scale for scale in (8, 4, 2, 1) if most >= scale)


@dataclass(frozen=True)
class _Decoding:
    """How an image will be decoded, read from its header: what it costs for its size."""

    words: str  # the kind of image, for a refusal
    bytes_per_pixel: int  # of the decoded image, or of everything decoding holds per pixel
    scaled: bool = False  # a JPEG, decoded at 1/2, 1/4 or 1/8 of its size
    coefficients: tuple[tuple[int, int], ...] = ()  # sampling of a multi-scan JPEG

    def cost(self, width: int, height: int) -> int:
        """Bytes decoding an image of this kind at this size allocates at its peak."""
        scale = _jpeg_scale(width, height) if self.scaled else 1
        cost = math.ceil(width / scale) * math.ceil(height / scale) * self.bytes_per_pixel
        if self.coefficients:
            cost += _coefficient_bytes(width, height, self.coefficients)
        return cost

    def most_megapixels(self, width: int, height: int) -> int:
        """The most whole megapixels an image of this kind and shape may have."""
        for megapixels in range(MAX_PIXELS // 1_000_000, 0, -1):
            shrink = math.sqrt(megapixels * 1_000_000 / (width * height))
            if self.cost(max(1, int(width * shrink)), max(1, int(height * shrink))) <= (
                DECODE_BUDGET
            ):
                return megapixels
        return 0


def _decoding(opened: Image.Image, data: bytes) -> _Decoding:
    """How ``opened`` will be decoded, from its header alone."""
    if opened.format == "WEBP":
        return _Decoding("a WebP image", WEBP_BYTES_PER_PIXEL)
    if not isinstance(opened, JpegImagePlugin.JpegImageFile):
        return _Decoding(f"a {opened.format} like this one", _bytes_per_pixel(opened.mode))
    frame, scan_components = _jpeg_layout(data)
    if frame in _LOSSLESS_SOF:
        # Not made by cameras, and decoded at full size whatever is asked.
        raise PhotoRejected(f"a lossless JPEG is not a photo we can take: choose {ACCEPTED_WORDS}")
    sampling = tuple((h, v) for _, h, v, _ in opened.layer[: opened.layers])
    if not sampling or not all(1 <= h <= 4 and 1 <= v <= 4 for h, v in sampling):
        raise ValueError("impossible JPEG sampling factors")  # libjpeg would refuse it too
    if frame in _PROGRESSIVE_SOF or scan_components < len(sampling):
        return _Decoding(
            "a progressive JPEG like this one",
            _bytes_per_pixel(opened.mode),
            scaled=True,
            coefficients=sampling,
        )
    # Decoded a row of blocks at a time, straight to the reduced scale.
    return _Decoding("a JPEG like this one", _bytes_per_pixel(opened.mode), scaled=True)


def _refuse_if_too_large(opened: Image.Image, data: bytes) -> tuple[Box, tuple[int, int]]:
    """Refuse, from the header alone, an image too large to decode within the budget.

    Sets up a JPEG to decode at the smallest scale that still gives the stored size. Returns
    the whole photo's box in the pixels that will be decoded, and the stored size.
    """
    width, height = opened.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise _too_large(width, height, f"the limit is {MAX_PIXELS // 1_000_000} megapixels")
    decoding = _decoding(opened, data)
    if decoding.cost(width, height) > DECODE_BUDGET:
        most = decoding.most_megapixels(width, height)
        raise _too_large(width, height, f"{decoding.words} can be at most {most} megapixels")
    size = _fitted_size(width, height)
    box: Box = (0, 0, width, height)
    # Scaling in the DCT makes decoding a large JPEG much faster as well as smaller.
    drafted = opened.draft(None, size)
    if drafted is not None:
        box = drafted[1]
    return box, size


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no transparency, and palette or CMYK images need converting."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _reduce(image: Image.Image, box: Box, size: tuple[int, int]) -> tuple[Image.Image, Box]:
    """The photo in RGB, reduced by whole factors towards ``size``, and its box in that image.

    The result shares no pixels with ``image``, so that the decoded image can be freed before
    the last, Lanczos, step. Converting to RGB on white, and Pillow's resize of a transparent
    image (which premultiplies first), would each copy the decoded image at full size; here
    each tile is flattened and reduced on its own.
    """
    # Whole factors leaving at most REDUCING_GAP to Lanczos, as Pillow's resize picks them.
    fx = int((box[2] - box[0]) / size[0] / REDUCING_GAP) or 1
    fy = int((box[3] - box[1]) / size[1] / REDUCING_GAP) or 1
    reduced_box = (box[0] / fx, box[1] / fy, box[2] / fx, box[3] / fy)
    if image.mode == "RGB":
        if fx == fy == 1:
            # Already small (a JPEG decoded at reduced scale): Lanczos straight away.
            return image.resize(size, Image.Resampling.LANCZOS, box=box), (0, 0, *size)
        return image.reduce((fx, fy)), reduced_box
    width, height = image.size
    reduced = Image.new("RGB", (math.ceil(width / fx), math.ceil(height / fy)))
    # Tiles a whole number of factors wide and high, so that each block averaged lies in one.
    cols = max(fx, TILE_EDGE // fx * fx)
    rows = max(fy, TILE_EDGE // fy * fy)
    for top in range(0, height, rows):
        for left in range(0, width, cols):
            tile = image.crop((left, top, min(width, left + cols), min(height, top + rows)))
            tile = _flatten(tile)
            if fx > 1 or fy > 1:
                tile = tile.reduce((fx, fy))
            reduced.paste(tile, (left // fx, top // fy))
    return reduced, reduced_box


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """Convert wide-gamut phone photos (Display P3) to sRGB: the profile itself is dropped."""
    if not profile:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken profile is dropped, not fatal: the pixels are still a photo
    return converted if converted is not None else image


def _not_supported(data: bytes) -> PhotoRejected:
    """Why an image Pillow cannot open here is refused: HEIC is named, as phones make it."""
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return PhotoRejected(
            f"HEIC and AVIF photos are not accepted yet: choose {ACCEPTED_WORDS} (an iPhone "
            "sends a JPEG when the camera's format is set to Most Compatible)"
        )
    return PhotoRejected(f"the file is not an image we can read: choose {ACCEPTED_WORDS}")


def sanitise_photo(data: bytes) -> SanitisedPhoto:
    """Check an upload by its content and re-encode it, or raise ``PhotoRejected`` saying why.

    Within ``PEAK_MEMORY_BUDGET``: what would cost more to decode is refused from its header.
    """
    if not data:
        raise PhotoRejected("the file is empty: choose a photo again")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRejected(
            f"the file is {_megabytes(len(data))}; the limit is {_megabytes(MAX_UPLOAD_BYTES)}"
        )
    try:
        with _decoding_slots, warnings.catch_warnings():
            # Pillow only warns below twice its own limit; here any bomb is refused outright.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as opened:
                box, size = _refuse_if_too_large(opened, data)
                opened.load()
                orientation = opened.getexif().get(ExifTags.Base.Orientation, 1)
                profile = opened.info.get("icc_profile") if opened.mode == "RGB" else None
                image, box = _reduce(opened, box, size)
            # The decoded image is freed here, before the last step.
            if image.size != size or box != (0, 0, *size):
                image = image.resize(size, Image.Resampling.LANCZOS, box=box)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected(
            f"the photo is too large: the limit is {MAX_PIXELS // 1_000_000} megapixels"
        ) from None
    except UnidentifiedImageError:
        raise _not_supported(data) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        # Truncated or corrupt data fails while decoding.
        raise PhotoRejected(
            "the image is damaged or incomplete: take or choose the photo again"
        ) from None
    image = _to_srgb(image, profile)
    if orientation in _ORIENTATION_TRANSPOSE:
        # Turned the right way up after shrinking, which is the same and far cheaper.
        image = image.transpose(_ORIENTATION_TRANSPOSE[orientation])
    # A new image from the pixels alone: Pillow would otherwise write back some of the
    # upload's metadata it keeps in ``info`` (a JPEG comment, for one).
    image = Image.frombytes("RGB", image.size, image.tobytes())
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    encoded = out.getvalue()
    return SanitisedPhoto(
        data=encoded,
        content_type="image/jpeg",
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


def attach_photo(session: Session, report_id: int, photo: SanitisedPhoto) -> ReportPhoto:
    """Store a sanitised photo as the report's photo."""
    row = ReportPhoto(
        report_id=report_id,
        content_type=photo.content_type,
        data=photo.data,
        width=photo.width,
        height=photo.height,
        sha256=photo.sha256,
    )
    session.add(row)
    session.flush()
    return row


def is_public(report: Report, photo: ReportPhoto) -> bool:
    """Whether anyone may see the photo, as the disclosure policy says (once approved)."""
    return disclose(report, Audience.PUBLIC).shows_photo(photo)


def public_photo(session: Session, reference: str) -> ReportPhoto:
    """The report's photo if the public may see it (a partner approved it, and the disclosure
    policy shows the report); ``NotFound`` otherwise, revealing nothing. Staff see photos on
    the triage pages, where each view of a sensitive report is logged."""
    row = session.execute(
        select(Report, ReportPhoto)
        .join(ReportPhoto, ReportPhoto.report_id == Report.id)
        .where(Report.reference == reference.strip().upper())
    ).one_or_none()
    if row is None or not is_public(*row):
        raise NotFound("no photo for this report")
    return row[1]


def set_photo_approved(session: Session, report: Report, *, actor: User, approved: bool) -> None:
    """Approve a report's photo for public view (or withdraw it), recorded in its history.

    ``report`` must come from the actor's queue (``access.report_for``), which scopes it.
    """
    photo = session.scalar(select(ReportPhoto).where(ReportPhoto.report_id == report.id))
    if photo is None:
        raise NotFound("this report has no photo")
    if (photo.approved_at is not None) == approved:
        return
    photo.approved_at = datetime.now(UTC) if approved else None
    photo.approved_by_id = actor.id if approved else None
    session.add(
        ReportEvent(
            report_id=report.id,
            actor_id=actor.id,
            kind="photo_approved" if approved else "photo_withdrawn",
        )
    )
    session.flush()


class PhotoStash:
    """Keeps a sanitised photo for a short while between the steps of one report form.

    A resident who has to correct a field, or is asked "is this the same?", does not have to
    choose their photo again. Keyed by the form's one-time id; gone after ``ttl_seconds``.
    When Redis is unreachable the photo is simply not kept, and the form asks for it again.
    """

    def __init__(self, client: redis.Redis, ttl_seconds: int = 3600) -> None:
        self._client = client
        self._ttl = ttl_seconds

    @staticmethod
    def _key(form_id: str) -> str:
        return f"safer-streets:pending-photo:{form_id}"

    def put(self, form_id: str, photo: SanitisedPhoto) -> bool:
        """Keep the photo for this form; False when it could not be kept."""
        fields = {
            "data": photo.data,
            "content_type": photo.content_type,
            "width": photo.width,
            "height": photo.height,
            "sha256": photo.sha256,
        }
        try:
            with self._client.pipeline() as pipe:
                pipe.hset(self._key(form_id), mapping=fields)
                pipe.expire(self._key(form_id), self._ttl)
                pipe.execute()
        except redis.RedisError:
            logger.warning("Could not keep a photo between form steps", exc_info=True)
            return False
        return True

    def get(self, form_id: str) -> SanitisedPhoto | None:
        """The photo kept for this form, if any."""
        try:
            fields = self._client.hgetall(self._key(form_id))
        except redis.RedisError:
            logger.warning("Could not read a kept photo", exc_info=True)
            return None
        if not fields:
            return None
        return SanitisedPhoto(
            data=fields[b"data"],
            content_type=fields[b"content_type"].decode(),
            width=int(fields[b"width"]),
            height=int(fields[b"height"]),
            sha256=fields[b"sha256"].decode(),
        )

    def drop(self, form_id: str) -> None:
        """Forget the photo kept for this form."""
        try:
            self._client.delete(self._key(form_id))
        except redis.RedisError:
            logger.warning("Could not drop a kept photo", exc_info=True)
