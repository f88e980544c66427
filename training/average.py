"""Weight averaging: a trained checkpoint's weights interpolated with another model's of the same
architecture, most often the model it was fine-tuned from (WiSE-FT, Wortsman et al. 2022; model soups).

Fine-tuning on a few thousand real boxes moves the weights towards those scans; the point between the
start and the end often reads unseen data better than either, at no cost at reading time (one model,
the same size). `actas-train average --checkpoint RUN/best.pt --with models/convnext_tiny.onnx --out
SOUP/best.pt` writes a checkpoint that `calibrate` and `export` take like any other; its config keeps
what was averaged (`average`), which the exported card records.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch


def interpolate(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], weight_of_b: float) -> dict[str, torch.Tensor]:
    """(1 - w) * a + w * b for every float tensor; the others (counters) from `a`."""
    if not 0.0 <= weight_of_b <= 1.0:
        raise ValueError(f"the weight of the other model must be within 0 and 1, not {weight_of_b}")
    if a.keys() != b.keys():
        raise ValueError(f"the two models' weights differ in names: {sorted(a.keys() ^ b.keys())[:5]}")
    out: dict[str, torch.Tensor] = {}
    for name, va in a.items():
        vb = b[name]
        if va.shape != vb.shape:
            raise ValueError(f"weight {name}: {tuple(va.shape)} against {tuple(vb.shape)}")
        out[name] = torch.lerp(va, vb.to(va.dtype), weight_of_b) if va.dtype.is_floating_point else va.clone()
    return out


def average_checkpoint(checkpoint: Path, other: Path, weight_of_other: float, out: Path) -> Path:
    """Write `out`: `checkpoint`'s evaluation weights averaged with `other`'s (a checkpoint or an .onnx
    of the same architecture), with `checkpoint`'s config, history and step."""
    from training.engine import load_trained, save_checkpoint, weights_for

    model, state = load_trained(checkpoint)
    cfg: dict[str, Any] = dict(state["config"])
    mine = model.state_dict()
    theirs = weights_for(model, cfg["model"], other)
    record: dict[str, Any] = {"checkpoint": str(checkpoint), "with": str(other), "weight_of_with": weight_of_other}
    if cfg.get("average"):  # an average of an average keeps the earlier record
        record["before"] = cfg["average"]
    config = cfg | {"average": record}
    averaged = {
        "model": interpolate(mine, theirs, weight_of_other),
        "ema": None,
        "opt": None,
        "step": state["step"],
        "history": state.get("history", []),
        "best_acc": state.get("best_acc", -1.0),
        "config": config,
    }
    return save_checkpoint(averaged, out)


def run_average(args: argparse.Namespace) -> int:
    out = average_checkpoint(args.checkpoint, args.with_, args.weight, args.out)
    print(json.dumps({"wrote": str(out), "with": str(args.with_), "weight_of_with": args.weight}))
    return 0
