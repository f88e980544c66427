"""What a reader is built from, as one explicit object. The core reads no environment: the edges (the
`actas` command's `actas.config`, the service's settings) resolve `ACTAS_*` variables into this."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.image_io import DEFAULT_MAX_PIXELS
from pipeline.views import DEFAULT_VIEWS, check_views

MODELS = Path(__file__).resolve().parents[1] / "models"
# The float model: trained, exported, the one to fine-tune (`--init`) and to run on a GPU.
FLOAT_MODEL = MODELS / "convnext_tiny.onnx"
# Its int8 quantization (`actas-train quantize`), the default on the CPU: the same readings at about
# 1.8 times the speed per box (docs/benchmarks.md).
SHIPPED_MODEL = MODELS / "convnext_tiny_int8.onnx"


def cpu_count() -> int:
    """The cores this process may run on (its affinity, where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ReaderConfig:
    model: Path = SHIPPED_MODEL  # ONNX digit model; its card (`<model>.json`) beside it
    templates_dirs: tuple[Path, ...] = ()  # added to the built-in forms (same id replaces)
    builtin_templates: bool = True
    prefer_gpu: bool = True  # CUDA where onnxruntime has it
    threads: int = 0  # onnxruntime intra-op threads, and references matched at once; 0: every core
    views: tuple[str, ...] = DEFAULT_VIEWS  # the second look's test-time views; ("identity",) turns it off
    max_pixels: int = DEFAULT_MAX_PIXELS
    flag_notes: bool = True  # a note written in the form's notes box flags every field (`pipeline.notes`)

    def __post_init__(self) -> None:
        check_views(self.views)
        if self.threads < 0 or self.max_pixels <= 0:
            raise ValueError("threads must be >= 0 and max_pixels > 0")
