"""Residents' photos: checked by content, re-encoded without metadata, shown only where allowed.

The uploaded file is never stored. It is decoded by Pillow (which refuses anything that is not
really an image), its orientation applied, then re-encoded as a fresh JPEG at a bounded size:
EXIF (with any GPS position), XMP, IPTC, comments and thumbnails do not survive, because
nothing is copied across but pixels.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from safer_streets.casework import access
from safer_streets.errors import InvalidInput, NotFound
from safer_streets.models import Report, ReportEvent, ReportPhoto, User

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# 50 megapixels is more than any phone camera; beyond it a small file is a decompression bomb.
MAX_PIXELS = 50_000_000
# The stored photo's longest side: enough to see a broken light or a dumped sofa.
MAX_EDGE = 1600
JPEG_QUALITY = 82
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
ACCEPTED_WORDS = "a JPEG, PNG or WebP photo"


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


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert wide-gamut phone photos (Display P3) to sRGB: the profile itself is dropped."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode != "RGB":
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken profile is dropped, not fatal: the pixels are still a photo
    return converted if converted is not None else image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no transparency, and palette or CMYK images need converting."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def sanitise_photo(data: bytes) -> SanitisedPhoto:
    """Check an upload by its content and re-encode it, or raise ``PhotoRejected`` saying why."""
    if not data:
        raise PhotoRejected("the file is empty: choose a photo again")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRejected(
            f"the file is {_megabytes(len(data))}; the limit is {_megabytes(MAX_UPLOAD_BYTES)}"
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own limit; here any bomb is refused outright.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as opened:
                # Only the header has been read: refuse huge images before decoding a pixel.
                width, height = opened.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    raise PhotoRejected(
                        f"the image is {width} × {height} pixels; the limit is "
                        f"{MAX_PIXELS // 1_000_000} megapixels"
                    )
                # JPEG can decode straight to a smaller size, which is much faster.
                opened.draft("RGB", (MAX_EDGE, MAX_EDGE))
                opened.load()
                image = ImageOps.exif_transpose(opened)
                image = _flatten(_to_srgb(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected(
            f"the image is too large to open safely; the limit is "
            f"{MAX_PIXELS // 1_000_000} megapixels"
        ) from None
    except UnidentifiedImageError:
        raise PhotoRejected(
            f"the file is not an image we can read: choose {ACCEPTED_WORDS}"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        # Truncated or corrupt data fails while decoding.
        raise PhotoRejected(
            "the image is damaged or incomplete: take or choose the photo again"
        ) from None
    image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
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


def attach_photo(session: Session, report: Report, photo: SanitisedPhoto) -> ReportPhoto:
    """Store a sanitised photo as the report's photo."""
    row = ReportPhoto(
        report_id=report.id,
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
    """Whether anyone may see the photo: never for sensitive categories or once hidden."""
    category = report.category
    return category.public and not category.sensitive and photo.hidden_at is None


@dataclass(frozen=True)
class PhotoView:
    """A photo someone may see, and whether it is public (so may be cached by anyone)."""

    photo: ReportPhoto
    public: bool


def photo_for(session: Session, reference: str, viewer: User | None) -> PhotoView:
    """The report's photo if ``viewer`` may see it; ``NotFound`` otherwise, revealing nothing.

    The public sees photos of non-sensitive reports that no partner has hidden; partners
    see the photos of the reports in their queue.
    """
    row = session.execute(
        select(Report, ReportPhoto)
        .join(ReportPhoto, ReportPhoto.report_id == Report.id)
        .where(Report.reference == reference.strip().upper())
    ).one_or_none()
    if row is None:
        raise NotFound("no photo for this report")
    report, photo = row
    if is_public(report, photo):
        return PhotoView(photo, public=True)
    if viewer is not None:
        access.report_for(session, viewer, report.reference)  # raises NotFound out of scope
        return PhotoView(photo, public=False)
    raise NotFound("no photo for this report")


def set_photo_hidden(session: Session, report: Report, *, actor: User, hidden: bool) -> None:
    """Hide a report's photo from the public (or show it again), recorded in its history.

    ``report`` must come from the actor's queue (``access.report_for``), which scopes it.
    """
    photo = session.scalar(select(ReportPhoto).where(ReportPhoto.report_id == report.id))
    if photo is None:
        raise NotFound("this report has no photo")
    if (photo.hidden_at is not None) == hidden:
        return
    photo.hidden_at = datetime.now(UTC) if hidden else None
    photo.hidden_by_id = actor.id if hidden else None
    session.add(
        ReportEvent(
            report_id=report.id,
            actor_id=actor.id,
            kind="photo_hidden" if hidden else "photo_shown",
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
