"""Synthetic actas: a template's printed form filled with MNIST test-set digits as pen ink, then scanned.

`actas synth OUT_DIR -n N --template ID --seed S` writes the images, a `truth.json` that `actas eval`
scores, and `synth.json` with what was done to each acta. Modules: `counts` (values that obey or break
the form's rules), `handwriting` (digits as ink), `form` (boxes and filling), `scan` (distortions),
`generate` (the loop). This module only declares the command's arguments, so the CLI stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", type=Path, help="where the images, truth.json and synth.json go")
    p.add_argument("-n", type=int, default=10, help="how many actas (default 10)")
    p.add_argument("--template", required=True, help="form template id, e.g. bo2025-runoff")
    p.add_argument("--seed", type=int, default=0, help="acta i is the same for a seed whatever -n (default 0)")
    p.add_argument("--variant", help="print variant (default: cycle through the template's variants)")
    p.add_argument("--mnist", type=Path, help="MNIST IDX folder (default: $ACTAS_MNIST_DIR or ../shared/data/mnist)")
    p.add_argument("--break-rate", type=float, default=0.1, help="share of actas with one rule broken (0.1)")
    p.add_argument("--max-rotation", type=float, default=3.0, help="largest scan rotation, degrees (3)")
    p.add_argument("--turn-rate", type=float, default=0.0, help="share of scans turned 90/180/270 degrees (0)")
    p.add_argument("--templates-dir", type=Path, help="form templates (default: $ACTAS_TEMPLATES_DIR or built-in)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
