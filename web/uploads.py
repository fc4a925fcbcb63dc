"""Photos kept between a report submit that failed validation and the retry.

Browsers cannot refill a file input, and re-picking six photos at a customer's door is the
kind of friction that loses reports. So when a submit fails, the photos that passed the
domain's own check (`validate_attachment`) are kept on disk under MEDIA_ROOT/tmp/<user>/<form
key>/ with random names, listed on the form (each can be dropped), and sent with the retry.
Nothing here is served over HTTP; the folder goes when the order is created or after
WEB_UPLOAD_KEEP_HOURS.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File

from workorders.errors import Invalid
from workorders.services import validate_attachment

_KEY = re.compile(r"^[0-9a-f]{32}$")


def _root(user) -> Path:
    return Path(settings.MEDIA_ROOT) / "tmp" / str(user.pk)


def _folder(user, key: str) -> Path | None:
    key = (key or "").replace("-", "")
    if not _KEY.match(key):
        return None
    return _root(user) / key


def _manifest(folder: Path) -> list[dict]:
    try:
        return json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return []


def kept(user, key: str) -> list[dict]:
    """[{"id", "name"}] of the photos kept for this form."""
    folder = _folder(user, key)
    if folder is None or not folder.is_dir():
        return []
    return [{"id": e["id"], "name": e["name"]} for e in _manifest(folder)]


def keep(user, key: str, uploads, *, drop: set[str] = frozenset()) -> None:
    """Store the valid `uploads` (up to six photos in all, kept ones first) and forget the
    kept ones listed in `drop`."""
    folder = _folder(user, key)
    if folder is None:
        return
    _sweep(user)
    folder.mkdir(parents=True, exist_ok=True)
    entries = [e for e in _manifest(folder) if e["id"] not in drop]
    for e in _manifest(folder):
        if e["id"] in drop:
            (folder / e["id"]).unlink(missing_ok=True)
    for upload in uploads:
        if len(entries) >= 6:
            break
        try:
            validate_attachment(upload)
        except Invalid:
            continue  # the service's message is already on the form
        file_id = uuid.uuid4().hex
        with open(folder / file_id, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        entries.append({"id": file_id, "name": (upload.name or "photo")[:200]})
    (folder / "manifest.json").write_text(json.dumps(entries, ensure_ascii=False))


def open_kept(user, key: str, *, drop: set[str] = frozenset()) -> list[File]:
    """The kept photos as open files, named as the user chose them. Caller closes them."""
    folder = _folder(user, key)
    if folder is None or not folder.is_dir():
        return []
    files = []
    for e in _manifest(folder):
        if e["id"] in drop:
            continue
        path = folder / e["id"]
        if path.is_file():
            files.append(File(path.open("rb"), name=e["name"]))
    return files


def discard(user, key: str) -> None:
    folder = _folder(user, key)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _sweep(user) -> None:
    """Forget this user's kept photos older than WEB_UPLOAD_KEEP_HOURS."""
    root = _root(user)
    if not root.is_dir():
        return
    limit = time.time() - settings.WEB_UPLOAD_KEEP_HOURS * 3600
    for folder in root.iterdir():
        try:
            if folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass
