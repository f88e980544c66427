"""One unit of work (an acta: an image file, or one page of a PDF or of a multi-page TIFF) and what became of it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actas.ingest.pdf import is_pdf, render_page
from actas.ingest.uris import read_uri
from pipeline.image_io import tiff_page_png

if TYPE_CHECKING:
    from pipeline.reader import ActaReader

Key = tuple[str, int | None]  # (sha256 of the file's bytes, 1-based PDF/TIFF page or None): what resuming skips
Source = Path | str  # a local file, or an object-store URI (a str: `s3://...`, `file:///...`) read through pyarrow


class FileChanged(ValueError):
    """The file's bytes are not those hashed when the work was listed."""


@dataclass(frozen=True)
class WorkItem:
    path: Path
    sha256: str  # of the whole file's bytes (the PDF's or TIFF's, for a page)
    page: int | None = None  # 1-based page of a PDF or multi-page TIFF; None for a single image
    uri: str | None = None  # the object-store URI it is read from (`path` is then the URI's path, for names)

    @classmethod
    def of(cls, source: Source, sha256: str, page: int | None = None) -> WorkItem:
        if isinstance(source, Path):
            return cls(source, sha256, page)
        return cls(Path(source.split("://", 1)[1]), sha256, page, uri=source)

    @property
    def source(self) -> str:
        """What results.jsonl and failed.jsonl name: the path as given, or the URI."""
        return self.uri if self.uri is not None else str(self.path)

    @property
    def key(self) -> Key:
        return (self.sha256, self.page)

    @property
    def label(self) -> str:
        return self.source if self.page is None else f"{self.source} page {self.page}"

    @property
    def upload_name(self) -> str:
        return self.path.name if self.page is None else f"{self.path.stem}.page{self.page}.png"

    def scan_bytes(self) -> bytes:
        """The bytes to read: the image file itself, or the PDF page rendered to PNG, or the TIFF page as PNG."""
        data = source_bytes(self.uri if self.uri is not None else self.path)
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise FileChanged("the file changed while being ingested; run again to read the new version")
        if self.page is None:
            return data
        return render_page(data, self.page) if is_pdf(data) else tiff_page_png(data, self.page)


@dataclass(frozen=True)
class Outcome:
    item: WorkItem
    reading: dict[str, Any] | None = None  # the ActaReading document, when read
    record: dict[str, Any] | None = None  # the service's record of the stored acta (URL mode)
    error: str | None = None  # why it was not read
    unreachable: bool = False  # failed for want of an answer from the service, after every retry

    @classmethod
    def failed(cls, item: WorkItem, reason: str, unreachable: bool = False) -> Outcome:
        return cls(item, error=reason, unreachable=unreachable)


def source_bytes(source: Source) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else read_uri(source)


def failure_reason(exc: Exception) -> str:
    """Why an acta was not read, from what reading it raised; a bug is named too (a night's run goes on)."""
    from pipeline.errors import ReadError, UnsupportedImage

    if isinstance(exc, UnsupportedImage):
        return "not a JPEG, PNG, TIFF or PDF file"
    if isinstance(exc, (ReadError, ValueError, OSError)):  # ValueError: PdfError, FileChanged
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def read_item(reader: ActaReader, item: WorkItem, template: str | None) -> Outcome:
    """One acta read by this reader (every engine's worker), its errors as a failed outcome."""
    try:
        reading = reader.read(item.scan_bytes(), template)
    except Exception as exc:
        return Outcome.failed(item, failure_reason(exc))
    return Outcome(item, reading=reading.model_dump(mode="json"))
