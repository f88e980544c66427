"""One unit of work (an acta: an image file, or one page of a PDF or of a multi-page TIFF) and what became of it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actas.ingest.pdf import is_pdf, render_page
from pipeline.image_io import tiff_page_png

Key = tuple[str, int | None]  # (sha256 of the file's bytes, 1-based PDF/TIFF page or None): what resuming skips


class FileChanged(ValueError):
    """The file's bytes are not those hashed when the work was listed."""


@dataclass(frozen=True)
class WorkItem:
    path: Path
    sha256: str  # of the whole file's bytes (the PDF's or TIFF's, for a page)
    page: int | None = None  # 1-based page of a PDF or multi-page TIFF; None for a single image

    @property
    def key(self) -> Key:
        return (self.sha256, self.page)

    @property
    def label(self) -> str:
        return str(self.path) if self.page is None else f"{self.path} page {self.page}"

    @property
    def upload_name(self) -> str:
        return self.path.name if self.page is None else f"{self.path.stem}.page{self.page}.png"

    def scan_bytes(self) -> bytes:
        """The bytes to read: the image file itself, or the PDF page rendered to PNG, or the TIFF page as PNG."""
        data = self.path.read_bytes()
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
