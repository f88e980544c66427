"""Object-store inputs (`s3://bucket/scans/`, `gs://...`, `file:///...`) through pyarrow's filesystems.

A URI names a file or a "folder" (a prefix): a folder contributes its files named like scans, hidden names
skipped, as a local folder does. Credentials and regions come from the environment as pyarrow reads them.
pyarrow comes with the `ray` extra; without it a URI is a usage error.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from actas.ingest.errors import UsageError

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str) -> bool:
    return bool(_URI.match(text))


def _filesystem(uri: str) -> tuple[FileSystem, str]:
    try:
        from pyarrow.fs import FileSystem
    except ImportError as exc:
        raise UsageError(f"{uri}: object-store inputs need pyarrow: pip install 'actas-ocr[ray]'") from exc
    try:
        return FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise UsageError(f"{uri}: {exc}") from exc


def list_uri(uri: str, suffixes: frozenset[str]) -> tuple[list[str], list[str]]:
    """(files named like scans, other files) under this URI, sorted; a URI of one file is that file."""
    from pyarrow.fs import FileSelector, FileType

    fs, root = _filesystem(uri)
    scheme = uri.split("://", 1)[0]
    info = fs.get_file_info(root)
    if info.type == FileType.NotFound:
        raise UsageError(f"{uri}: no such file or folder")
    if info.type != FileType.Directory:
        return [uri], []
    scans: list[str] = []
    others: list[str] = []
    base = root.rstrip("/") + "/"
    for f in sorted(fs.get_file_info(FileSelector(root, recursive=True)), key=lambda f: f.path):
        parts = f.path[len(base) :].split("/") if f.path.startswith(base) else [f.base_name]
        if f.type != FileType.File or any(p.startswith(".") for p in parts):
            continue
        name = f"{scheme}://{f.path}"
        (scans if "." + f.extension.lower() in suffixes else others).append(name)
    return scans, others


def read_uri(uri: str) -> bytes:
    fs, path = _filesystem(uri)
    with fs.open_input_stream(path) as f:
        return bytes(f.read())
