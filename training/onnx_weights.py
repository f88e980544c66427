"""Weights of an exported ONNX model back into its PyTorch architecture.

The shipped model is the ONNX file; checkpoints are not committed. To fine-tune the shipped model
further (`actas-train train --init models/convnext_tiny.onnx`) or to time it in PyTorch (bench/), the
weights are read back from the graph. The exporter keeps most parameter names; the ones it renamed
(linear weights folded into a transposed MatMul, ConvNeXt's layer scale folded into a Mul) are matched
by shape, in the order the graph uses them, and the result is checked against onnxruntime by the
caller (`training.export.parity` style), never assumed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn


def state_dict_from_onnx(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict for `model` (the architecture the ONNX file was exported from)."""
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    target = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for name in target:
        if name in inits:
            out[name] = torch.from_numpy(np.array(inits[name]))
    # Renamed initializers in the order nodes first use them: the graph runs the layers in module order.
    used: list[str] = []
    for node in graph.node:
        for name in node.input:
            if name in inits and name not in target and name not in used:
                used.append(name)
    for name, ref in target.items():
        if name in out or name.endswith("num_batches_tracked"):
            continue
        shape = tuple(ref.shape)
        for i, candidate in enumerate(used):
            array = inits[candidate]
            if len(shape) == 2 and array.shape == shape[::-1]:  # a Linear exported as x @ W^T
                out[name] = torch.from_numpy(np.ascontiguousarray(array.T))
            elif len(shape) != 2 and array.ndim != 2 and array.size == ref.numel():  # layer scale, maybe reshaped
                out[name] = torch.from_numpy(np.array(array).reshape(shape))
            else:
                continue
            del used[i]
            break
        else:
            raise ValueError(f"{path}: no weight in the graph fits {name} {shape}")
    missing = [k for k in target if k not in out and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(f"{path}: weights missing for {missing[:5]}")
    return out
