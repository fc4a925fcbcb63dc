"""Photos as they are kept: decoded once under a pixel limit, turned upright, re-encoded without
metadata.

A phone photo carries EXIF: GPS position, camera make and serial, time. Whistle keeps the
pixels and nothing else: the EXIF orientation is applied to the pixels (so the photo still shows
upright) and the file is written again without EXIF, XMP or comments. The colour profile is kept
(it is not about anyone). HEIC/HEIF (iPhones) is re-encoded as JPEG, which every browser shows.

A small file can declare a huge picture (a 20000×20000 PNG of one colour is a few kilobytes and
decodes to gigabytes): the declared size is checked against ATTACHMENT_MAX_PIXELS before any
pixel is decoded. Pillow's own limit (`Image.MAX_IMAGE_PIXELS`, set from the same setting in
WorkordersConfig.ready) guards every other use of Pillow in the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

# Per type found in the bytes: (Pillow format to write, content type, file extension).
OUTPUT = {
    "image/jpeg": ("JPEG", "image/jpeg", ".jpg"),
    "image/png": ("PNG", "image/png", ".png"),
    "image/webp": ("WEBP", "image/webp", ".webp"),
    "image/heic": ("JPEG", "image/jpeg", ".jpg"),
    "image/heif": ("JPEG", "image/jpeg", ".jpg"),
}
JPEG_QUALITY = 90
WEBP_QUALITY = 90
# Lists and timelines show photos at 96 CSS px; 240 px covers a 2.5× screen.
THUMBNAIL_MAX = 240
THUMBNAIL_QUALITY = 80


class TooManyPixels(Exception):
    def __init__(self, width: int, height: int):
        super().__init__(f"{width}×{height}")
        self.width, self.height = width, height


class Unreadable(Exception):
    pass


@dataclass(frozen=True)
class CleanImage:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int


def clean_image(fp, mime: str, *, max_pixels: int) -> CleanImage:
    """The photo in `fp` (of type `mime`, from its bytes) upright and without metadata.
    Raises TooManyPixels before decoding a picture larger than `max_pixels`, Unreadable when
    Pillow cannot decode it."""
    fmt, content_type, extension = OUTPUT[mime]
    fp.seek(0)
    try:
        with Image.open(fp) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise TooManyPixels(width, height)
            img.seek(0)  # the first frame of an animation
            upright = ImageOps.exif_transpose(img)  # decodes the pixels
    except TooManyPixels:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit (MAX_IMAGE_PIXELS) tripped first, or warnings are errors (-W).
        raise TooManyPixels(0, 0) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        # Truncated or malformed data: each decoder fails in its own way.
        raise Unreadable(str(exc)) from exc
    finally:
        fp.seek(0)
    return _encode(upright, fmt, content_type, extension)


def _encode(img: Image.Image, fmt: str, content_type: str, extension: str) -> CleanImage:
    # Only what is named here is written: the encoders read EXIF, XMP and comments from
    # `info` as defaults, so it is emptied.
    icc_profile = img.info.get("icc_profile")
    transparency = img.info.get("transparency")
    img.info = {}
    options: dict = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if fmt == "JPEG":
        if img.mode not in ("RGB", "L", "CMYK"):
            img = img.convert("RGB")
        options["quality"] = JPEG_QUALITY
    elif fmt == "PNG":
        if transparency is not None:
            options["transparency"] = transparency
    elif fmt == "WEBP":
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if img.has_transparency_data else "RGB")
        options["quality"] = WEBP_QUALITY
    out = BytesIO()
    img.save(out, format=fmt, **options)
    return CleanImage(out.getvalue(), content_type, extension, img.width, img.height)


def has_metadata(fp) -> bool:
    """Whether the image in `fp` carries EXIF (orientation included), XMP, a comment or PNG
    text: what `clean_image` removes. Reads the header only."""
    fp.seek(0)
    try:
        with Image.open(fp) as img:
            if img.getexif():
                return True
            if any(k in img.info for k in ("exif", "xmp", "XML:com.adobe.xmp", "comment")):
                return True
            return bool(getattr(img, "text", None))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return False
    finally:
        fp.seek(0)


def thumbnail(content: bytes, *, max_side: int = THUMBNAIL_MAX) -> CleanImage:
    """A small JPEG (longest side ≤ `max_side`) of a photo `clean_image` already kept: upright
    and written without metadata like the photo itself. Transparency is flattened on white."""
    with Image.open(BytesIO(content)) as img:
        img.seek(0)
        small = ImageOps.exif_transpose(img)  # a kept photo is upright; a no-op but for safety
        small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if small.mode in ("RGBA", "LA", "P"):
        small = small.convert("RGBA")
        flat = Image.new("RGB", small.size, (255, 255, 255))
        flat.paste(small, mask=small.getchannel("A"))
        small = flat
    elif small.mode not in ("RGB", "L"):
        small = small.convert("RGB")
    small.info = {}
    out = BytesIO()
    small.save(out, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return CleanImage(out.getvalue(), "image/jpeg", ".jpg", small.width, small.height)
