"""Images sent to a `/v1/videos` create as multipart files, turned into the data URIs the unified
inputs take: typed by their declared type, their name or their first bytes, at most 20 MB each."""

from __future__ import annotations

import base64
import mimetypes

from workers.providers.compat import CompatError, Upload, invalid

# Image types recognised by their first bytes, for uploads sent as application/octet-stream.
MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif", b"RIFF": "image/webp"}
FIELD = "input_reference"
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # what the models served here take inline (Gemini's request limit)


def too_large(message: str) -> CompatError:
    return CompatError(413, "file_too_large", message, FIELD)


def data_uri(item: str | Upload) -> str:
    """An uploaded image as a data URI (a text value is taken as a URL or data URI already)."""
    if isinstance(item, str):
        return item
    name = item.filename or FIELD
    if len(item.data) > MAX_IMAGE_BYTES:
        raise too_large(f"input_reference {name!r} is larger than {MAX_IMAGE_BYTES} bytes (20 MB)")
    if not item.data:
        raise invalid(f"input_reference {name!r} is empty", FIELD)
    mime = image_type(item)
    if mime is None:
        raise invalid(f"input_reference {name!r} is not an image (PNG, JPEG, WebP or GIF)", FIELD)
    return f"data:{mime};base64,{base64.b64encode(item.data).decode()}"


def image_type(upload: Upload) -> str | None:
    """The upload's image type: as declared, else guessed from its name, else from its first bytes."""
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared.startswith("image/"):
        return declared
    guessed = mimetypes.guess_type(upload.filename or "")[0] or ""
    if guessed.startswith("image/"):
        return guessed
    return next((mime for magic, mime in MAGIC.items() if upload.data.startswith(magic)), None)
