"""Where the benchmarks find their inputs: the shared real samples and MNIST, or folders given."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_DIRS = [SHARED / "actas"]
MNIST_DIR = SHARED / "mnist"
SCAN_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def scans_in(dirs: list[Path]) -> list[Path]:
    """Every scan below these folders (recursive), sorted."""
    return sorted(f for d in dirs for f in d.rglob("*") if f.suffix.lower() in SCAN_SUFFIXES)
