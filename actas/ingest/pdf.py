"""PDF pages as scans: count the pages and render one to PNG bytes the reader (and the service) accept."""

from __future__ import annotations

import io
import math
import threading

import pypdfium2 as pdfium

RENDER_DPI = 200
# A page drawn at 200 dpi larger than this (e.g. A0) is rendered smaller instead: the reader refuses
# images above 60 Mpx, and an acta needs far fewer pixels.
MAX_RENDER_PIXELS = 40_000_000
_PDFIUM = threading.Lock()  # PDFium is not thread-safe: one call at a time per process


class PdfError(ValueError):
    """A PDF that cannot be opened, or a page that cannot be rendered."""


def is_pdf(data: bytes) -> bool:
    """PDF readers accept the header anywhere in the first 1024 bytes."""
    return b"%PDF-" in data[:1024]


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PdfError(f"not a readable PDF ({exc})") from exc


def page_count(data: bytes) -> int:
    with _PDFIUM:
        pdf = _open(data)
        try:
            return len(pdf)
        finally:
            pdf.close()


def render_page(data: bytes, page: int, dpi: int = RENDER_DPI) -> bytes:
    """Page `page` (1-based) drawn at `dpi` (less for huge pages), as PNG bytes (deterministic for a given file)."""
    with _PDFIUM:
        pdf = _open(data)
        try:
            if not 1 <= page <= len(pdf):
                raise PdfError(f"the PDF has {len(pdf)} pages, not {page}")
            try:
                pg = pdf[page - 1]
                width, height = pg.get_size()  # points: 1/72 inch
                scale = dpi / 72
                if width * height * scale * scale > MAX_RENDER_PIXELS:
                    scale = math.sqrt(MAX_RENDER_PIXELS / (width * height))
                # A copy in RGB: the bitmap's buffer belongs to PDFium and goes with the document.
                image = pg.render(scale=scale).to_pil().convert("RGB")
                pg.close()
            except pdfium.PdfiumError as exc:
                raise PdfError(f"page {page} cannot be rendered ({exc})") from exc
        finally:
            pdf.close()
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # lossless; level 1 is several times faster than the default
    return out.getvalue()
