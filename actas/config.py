"""The `actas` command's edge: the one place it turns `ACTAS_*` variables and flags into a ReaderConfig.

ACTAS_MODEL_PATH      ONNX digit model (default: the shipped one)
ACTAS_TEMPLATES_DIR   a directory of form templates added to the built-in ones (same id replaces)
ACTAS_VIEWS           the second look's views, comma-separated (`identity` alone turns it off)
ACTAS_FLAG_NOTES      `0` to read without checking the notes box (a note written there flags every field)
ACTAS_MNIST_DIR       MNIST's IDX files for `actas synth` (default: ../shared/data/mnist)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pipeline.config import SHIPPED_MODEL, ReaderConfig
from pipeline.views import DEFAULT_VIEWS, check_views, parse_views

REPO_ROOT = Path(__file__).resolve().parents[1]


def model_path(flag: Path | None = None, env: Mapping[str, str] = os.environ) -> Path:
    return flag or Path(env.get("ACTAS_MODEL_PATH") or SHIPPED_MODEL)


def templates_dirs(flag: Path | None = None, env: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    chosen = flag or (Path(env["ACTAS_TEMPLATES_DIR"]) if env.get("ACTAS_TEMPLATES_DIR") else None)
    return (chosen,) if chosen else ()


def views(env: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """$ACTAS_VIEWS, or DEFAULT_VIEWS; an unknown name is a ValueError."""
    value = env.get("ACTAS_VIEWS", "")
    return check_views(parse_views(value)) if value.strip() else DEFAULT_VIEWS


def flag_notes(env: Mapping[str, str] = os.environ) -> bool:
    """$ACTAS_FLAG_NOTES: on unless 0, false, no or off."""
    return env.get("ACTAS_FLAG_NOTES", "1").strip().lower() not in {"0", "false", "no", "off"}


def mnist_dir(flag: Path | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """--mnist, $ACTAS_MNIST_DIR, else ../shared/data/mnist beside the repository root."""
    if flag:
        return flag
    return (
        Path(env["ACTAS_MNIST_DIR"]) if env.get("ACTAS_MNIST_DIR") else REPO_ROOT.parent / "shared" / "data" / "mnist"
    )


def reader_config(
    model: Path | None = None,
    templates_dir: Path | None = None,
    cpu: bool = False,
    threads: int = 0,
    env: Mapping[str, str] = os.environ,
) -> ReaderConfig:
    """The reader the command's flags and environment ask for."""
    return ReaderConfig(
        model=model_path(model, env),
        templates_dirs=templates_dirs(templates_dir, env),
        prefer_gpu=not cpu,
        threads=threads,
        views=views(env),
        flag_notes=flag_notes(env),
    )
