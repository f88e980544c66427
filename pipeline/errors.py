"""Every reason the reader refuses an input, in one place (the service maps them to HTTP, the CLI to
exit codes). All are `ValueError`s: the input is at fault, not the reader."""

from __future__ import annotations


class ReadError(ValueError):
    """Base of every refusal: the scan cannot be read as an acta."""


class ImageError(ReadError):
    """Base of every reason an upload is not a usable image."""


class EmptyImage(ImageError):
    pass


class UnsupportedImage(ImageError):
    """Not an image, or a format the reader does not take."""


class ImageTooSmall(ImageError):
    """A valid image with too few pixels to show a form."""


class ImageTooLarge(ImageError):
    """More pixels than allowed (decompression bombs included)."""


class CorruptImage(ImageError):
    """A recognised format whose data is truncated or damaged."""


class MultiPageImage(ImageError):
    """A TIFF with several pages: one acta per image (`actas ingest` reads such a file page by page)."""

    def __init__(self, pages: int) -> None:
        super().__init__(f"one acta per upload: this TIFF has {pages} pages")
        self.pages = pages


class NotAForm(ReadError):
    """The image matches none of the known form templates, or its boxes are not where they should be."""


class UnprocessableImage(ReadError):
    """A decoded image that OpenCV could not process (e.g. a degenerate warp); the message says where."""
