"""Uploaded evidence files: the one place that decides what may be stored.

Task evidence, inspection attachments and finding evidence all pass through
`validate_upload`. A file is accepted only when its extension is allowed for the
requested kinds AND its first bytes match that extension (a renamed .exe is refused),
and when it is not empty and not larger than the limit. Stored names are generated
(`EvidencePath`), never taken from the uploader.
"""

import os
import uuid
import zipfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class FileKind:
    IMAGE = "image"
    PDF = "pdf"
    OFFICE = "office"


#: Evidence of work done or seen: photos, scanned PDFs, Office (and WPS) documents.
EVIDENCE_KINDS = (FileKind.IMAGE, FileKind.PDF, FileKind.OFFICE)

KIND_LABELS = {
    FileKind.IMAGE: _("images (JPG, PNG, GIF, WEBP)"),
    FileKind.PDF: _("PDF"),
    FileKind.OFFICE: _("Office documents (DOC, DOCX, XLS, XLSX, PPT, PPTX, WPS, ET)"),
}

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office / WPS compound file
_ZIP = b"PK\x03\x04"

# extension -> (kind, check of the head bytes, OOXML folder that must be inside the zip)
_SIGNATURES = {
    "jpg": (FileKind.IMAGE, lambda h: h.startswith(b"\xff\xd8\xff"), None),
    "jpeg": (FileKind.IMAGE, lambda h: h.startswith(b"\xff\xd8\xff"), None),
    "png": (FileKind.IMAGE, lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"), None),
    "gif": (FileKind.IMAGE, lambda h: h[:6] in (b"GIF87a", b"GIF89a"), None),
    "webp": (FileKind.IMAGE, lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", None),
    "pdf": (FileKind.PDF, lambda h: b"%PDF-" in h[:1024], None),
    "doc": (FileKind.OFFICE, lambda h: h.startswith(_OLE), None),
    "xls": (FileKind.OFFICE, lambda h: h.startswith(_OLE), None),
    "ppt": (FileKind.OFFICE, lambda h: h.startswith(_OLE), None),
    "wps": (FileKind.OFFICE, lambda h: h.startswith(_OLE), None),
    "et": (FileKind.OFFICE, lambda h: h.startswith(_OLE), None),
    "docx": (FileKind.OFFICE, lambda h: h.startswith(_ZIP), "word/"),
    "xlsx": (FileKind.OFFICE, lambda h: h.startswith(_ZIP), "xl/"),
    "pptx": (FileKind.OFFICE, lambda h: h.startswith(_ZIP), "ppt/"),
}


def allowed_extensions(allowed_kinds=EVIDENCE_KINDS) -> list[str]:
    """Extensions accepted for these kinds, e.g. for a file input's `accept` attribute."""
    return sorted(ext for ext, (kind, _check, _folder) in _SIGNATURES.items() if kind in allowed_kinds)


def _extension(name: str) -> str:
    return os.path.splitext(name or "")[1].lower().lstrip(".")


def _is_ooxml(file, folder: str) -> bool:
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        file.seek(0)
    return "[Content_Types].xml" in names and any(name.startswith(folder) for name in names)


def validate_upload(file, allowed_kinds=EVIDENCE_KINDS, max_bytes: int | None = None) -> str:
    """Check an uploaded file; return its kind (FileKind.*) or raise ValidationError.

    `file` is a Django UploadedFile (or any File with name, size, read, seek).
    `max_bytes` defaults to settings.UPLOAD_MAX_BYTES.
    """
    limit = max_bytes if max_bytes is not None else settings.UPLOAD_MAX_BYTES
    name = os.path.basename(getattr(file, "name", "") or "")
    size = getattr(file, "size", None)
    if size is None:
        raise ValidationError(gettext("The file %(name)s could not be read.") % {"name": name}, code="unreadable")
    if size == 0:
        raise ValidationError(gettext("The file %(name)s is empty.") % {"name": name}, code="empty")
    if size > limit:
        raise ValidationError(
            gettext("The file %(name)s is %(size)s; files may be at most %(limit)s.")
            % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(limit)},
            code="too_large",
        )
    extension = _extension(name)
    signature = _SIGNATURES.get(extension)
    if signature is None or signature[0] not in allowed_kinds:
        raise ValidationError(
            gettext("The file %(name)s has a type that is not accepted. Accepted: %(kinds)s.")
            % {"name": name, "kinds": "; ".join(str(KIND_LABELS[kind]) for kind in allowed_kinds)},
            code="bad_type",
        )
    kind, check, ooxml_folder = signature
    file.seek(0)
    head = file.read(2048)
    file.seek(0)
    if not check(head) or (ooxml_folder and not _is_ooxml(file, ooxml_folder)):
        raise ValidationError(
            gettext("The content of %(name)s is not a real .%(ext)s file. Save it again in that format and retry.")
            % {"name": name, "ext": extension},
            code="content_mismatch",
        )
    return kind


@deconstructible
class EvidencePath:
    """upload_to: `<prefix>/<yyyy>/<mm>/<random>.<ext>`, keeping only the checked extension.

    The original file name is kept on the model (e.g. an `original_name` field) for display.
    """

    def __init__(self, prefix: str):
        self.prefix = prefix.strip("/")

    def __call__(self, instance, filename: str) -> str:
        now = timezone.now()
        extension = _extension(filename)
        suffix = f".{extension}" if extension in _SIGNATURES else ""
        return f"{self.prefix}/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"

    def __eq__(self, other):
        return isinstance(other, EvidencePath) and other.prefix == self.prefix
