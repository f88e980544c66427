"""ConvNeXt-Tiny from timm, one input channel (`in_chans` other than 1 only for benchmarks).

`pretrained=True` loads timm's ImageNet weights (internet needed; timm folds the RGB stem into one
channel); `pretrained_file` loads them from a local file instead.
"""

from __future__ import annotations

from typing import Any

import timm
from torch import nn

from training.models.registry import register_model


@register_model
def convnext_tiny(
    num_classes: int,
    pretrained: bool = False,
    pretrained_file: str | None = None,
    drop_path_rate: float = 0.1,
    in_chans: int = 1,
    **_: Any,
) -> nn.Module:
    overlay = {"file": pretrained_file} if pretrained_file else None
    model: nn.Module = timm.create_model(
        "convnext_tiny",
        pretrained=pretrained or bool(pretrained_file),
        pretrained_cfg_overlay=overlay,
        in_chans=in_chans,
        num_classes=num_classes,
        drop_path_rate=drop_path_rate,
    )
    return model
