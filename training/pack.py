"""A trained checkpoint as a few small files, and back: how weights leave a lent GPU machine.

The `device` tool returns at most 8 files of 16 MiB, 64 MiB in all, from a run, and a ConvNeXt-Tiny
checkpoint (weights, EMA and optimiser state) is about 330 MB. `pack` keeps only what evaluation and
export need (the evaluation weights, in float16, with the run's config and history), splits it into
parts and writes a manifest with their SHA-256; `unpack` checks the parts and writes a float32
checkpoint that `calibrate`, `evaluate`, `export` and `train --init` read like any other.
float16 keeps 11 significant bits: the exported model is measured after unpacking, never assumed equal.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path
from typing import Any

import torch

MANIFEST = "manifest.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def slim_state(state: dict[str, Any]) -> dict[str, Any]:
    """The parts of a training checkpoint that evaluation and export read, weights in float16."""
    weights = state.get("ema") or state["model"]
    half = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    return {
        "model": half,
        "ema": None,
        "step": state.get("step", 0),
        "history": state.get("history", []),
        "best_acc": state.get("best_acc", -1.0),
        "config": state["config"],
    }


def pack(checkpoint: Path, out_dir: Path, part_mib: float = 15.0) -> list[Path]:
    """Write `checkpoint` as parts of at most `part_mib` MiB plus a manifest into `out_dir`."""
    if part_mib <= 0:
        raise ValueError(f"--part-mib must be positive, got {part_mib}")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"{checkpoint}: not a checkpoint PyTorch can read ({exc})") from exc
    if not isinstance(state, dict) or "config" not in state or not (state.get("ema") or state.get("model")):
        raise ValueError(f"{checkpoint}: not a training checkpoint of `actas-train train` (no weights and config)")
    buffer = io.BytesIO()
    torch.save(slim_state(state), buffer)
    data = buffer.getvalue()
    size = max(1, int(part_mib * 2**20))
    out_dir.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    listed: list[dict[str, str]] = []
    for i, start in enumerate(range(0, len(data), size)):
        chunk = data[start : start + size]
        part = out_dir / f"{checkpoint.stem}.part{i:02d}"
        part.write_bytes(chunk)
        parts.append(part)
        listed.append({"name": part.name, "sha256": _sha256(chunk)})
    manifest = {"checkpoint": checkpoint.name, "bytes": len(data), "sha256": _sha256(data), "parts": listed}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))  # last: no manifest, no pack
    return parts


def unpack(pack_dir: Path, out: Path) -> Path:
    """Check the parts in `pack_dir` against its manifest and write the float32 checkpoint `out`."""
    manifest_path = pack_dir / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{pack_dir}: no {MANIFEST} (not a directory written by `actas-train pack`)")
    try:
        manifest = json.loads(manifest_path.read_text())
        listed = [(str(p["name"]), str(p["sha256"])) for p in manifest["parts"]]
        whole = str(manifest["sha256"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{manifest_path}: not a manifest written by `actas-train pack` ({exc!r})") from exc
    chunks: list[bytes] = []
    for name, sha in listed:
        path = pack_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: part missing")
        chunk = path.read_bytes()
        if _sha256(chunk) != sha:
            raise ValueError(f"{path}: checksum differs from the manifest (damaged or from another pack)")
        chunks.append(chunk)
    data = b"".join(chunks)
    if _sha256(data) != whole:  # also catches a manifest that lost a part's line
        raise ValueError(f"{pack_dir}: the parts do not join into the packed checkpoint")
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    state["model"] = {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()}
    from training.engine import save_checkpoint

    return save_checkpoint(state, out)  # atomic: never a half-written checkpoint
