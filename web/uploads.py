"""Photos kept between a report submit that failed validation and the retry.

Browsers cannot refill a file input, and re-picking six photos at a customer's door is the
kind of friction that loses reports. So when a submit fails, the photos that passed the
domain's own check (`validate_attachment`) are kept on disk under MEDIA_ROOT/tmp/<user>/<form
key>/ with random names, listed on the form (each can be dropped), and sent with the retry.
Nothing here is served over HTTP; the folder goes when the order is created or after
WEB_UPLOAD_KEEP_HOURS (the hourly `kept_uploads_sweep`, and this user's next failed submit).

Each user keeps at most WEB_UPLOAD_KEEP_MAX_FILES photos and WEB_UPLOAD_KEEP_MAX_BYTES in all,
whatever the number of forms: every reload of the report page is a new form key, and five
failed retries used to keep five copies of the same photos. The form being submitted wins: the
photos of the user's other forms are dropped, oldest form first (a form left behind for a newer
one is rarely submitted again, and if it is, its photos are picked again); a photo that does
not fit even then is not kept, and the form says which one to pick again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File

from workorders.errors import Invalid
from workorders.services import validate_attachment

_KEY = re.compile(r"^[0-9a-f]{32}$")


MANIFEST = "manifest.json"


def _base() -> Path:
    return Path(settings.MEDIA_ROOT) / "tmp"


def _root(user) -> Path:
    return _base() / str(user.pk)


def _folder(user, key: str) -> Path | None:
    key = (key or "").replace("-", "")
    if not _KEY.match(key):
        return None
    return _root(user) / key


def _manifest(folder: Path) -> list[dict]:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return []


def kept(user, key: str) -> list[dict]:
    """[{"id", "name"}] of the photos kept for this form."""
    folder = _folder(user, key)
    if folder is None or not folder.is_dir():
        return []
    return [{"id": e["id"], "name": e["name"]} for e in _manifest(folder)]


@dataclass
class _Usage:
    folder: Path
    files: int
    size: int
    mtime: float


def _usage(folder: Path) -> _Usage | None:
    """Photos and bytes kept in a form's folder; None if it went meanwhile (another request)."""
    files = size = 0
    try:
        for path in folder.iterdir():
            if path.name != MANIFEST and path.is_file():
                files += 1
                size += path.stat().st_size
        return _Usage(folder, files, size, folder.stat().st_mtime)
    except OSError:
        return None


def _over(here: _Usage, others: list[_Usage], size: int, max_files: int, max_bytes: int) -> bool:
    """Whether one more photo of `size` bytes in `here` would pass the user's cap."""
    files = here.files + 1 + sum(u.files for u in others)
    total = here.size + size + sum(u.size for u in others)
    return files > max_files or total > max_bytes


def keep(user, key: str, uploads, *, drop: set[str] = frozenset()) -> list[str]:
    """Store the valid `uploads` (up to six photos per form, kept ones first) and forget the
    kept ones listed in `drop`, within the user's cap (the module's docstring). Returns the
    names of valid photos that could not be kept."""
    folder = _folder(user, key)
    if folder is None:
        return []
    _sweep(user)
    folder.mkdir(parents=True, exist_ok=True)
    entries = [e for e in _manifest(folder) if e["id"] not in drop]
    for e in _manifest(folder):
        if e["id"] in drop:
            (folder / e["id"]).unlink(missing_ok=True)
    here = _usage(folder) or _Usage(folder, 0, 0, 0.0)
    others = sorted(
        filter(None, (_usage(f) for f in _root(user).iterdir() if f.is_dir() and f != folder)),
        key=lambda u: u.mtime,
    )
    max_files = settings.WEB_UPLOAD_KEEP_MAX_FILES
    max_bytes = settings.WEB_UPLOAD_KEEP_MAX_BYTES
    refused: list[str] = []
    for upload in uploads:
        if len(entries) >= 6:
            break
        try:
            validate_attachment(upload)
        except Invalid:
            continue  # the service's message is already on the form
        name = (upload.name or "photo")[:200]
        while others and _over(here, others, upload.size, max_files, max_bytes):
            shutil.rmtree(others.pop(0).folder, ignore_errors=True)
        if _over(here, others, upload.size, max_files, max_bytes):
            refused.append(name)
            continue
        file_id = uuid.uuid4().hex
        with open(folder / file_id, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        here.files += 1
        here.size += upload.size
        entries.append({"id": file_id, "name": name})
    (folder / MANIFEST).write_text(json.dumps(entries, ensure_ascii=False))
    os.utime(folder)  # kept for WEB_UPLOAD_KEEP_HOURS from the last submit
    return refused


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


def _expired(folder: Path, limit: float) -> bool:
    try:
        return folder.stat().st_mtime < limit
    except OSError:
        return False


def _sweep(user) -> None:
    """Forget this user's kept photos older than WEB_UPLOAD_KEEP_HOURS."""
    root = _root(user)
    if not root.is_dir():
        return
    limit = time.time() - settings.WEB_UPLOAD_KEEP_HOURS * 3600
    for folder in root.iterdir():
        if _expired(folder, limit):
            shutil.rmtree(folder, ignore_errors=True)


def kept_uploads_sweep(*, now: float | None = None) -> int:
    """Remove every user's kept photos older than WEB_UPLOAD_KEEP_HOURS (and emptied user
    folders); the number of forms whose photos were removed. Safe to run at any time, twice."""
    base = _base()
    if not base.is_dir():
        return 0
    limit = (time.time() if now is None else now) - settings.WEB_UPLOAD_KEEP_HOURS * 3600
    removed = 0
    for root in base.iterdir():
        if not root.is_dir():
            continue
        for folder in root.iterdir():
            if _expired(folder, limit):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        with contextlib.suppress(OSError):
            root.rmdir()  # only when empty
    return removed
