"""AlexNet (Krizhevsky et al. 2012) adapted to 32x32 digits.

Five convolutions and three fully connected layers as in the original, with 3x3 kernels, three
pools (32 -> 4) and narrower layers: at full width it would cost twice ConvNeXt-Tiny's FLOPs here.
BatchNorm after each convolution stands in for the original's local response normalisation: without
it this net, trained from scratch, sits on a loss plateau for a long time.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from training.models.registry import register_model


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class AlexNetSmall(nn.Module):
    def __init__(self, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv(1, 48),
            nn.MaxPool2d(2),  # 16
            *_conv(48, 128),
            nn.MaxPool2d(2),  # 8
            *_conv(128, 192),
            *_conv(192, 192),
            *_conv(192, 128),
            nn.MaxPool2d(2),  # 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(128 * 4 * 4, 1024),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(1024, 1024),
            nn.ReLU(inplace=True),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def alexnet(num_classes: int, **_: Any) -> nn.Module:
    return AlexNetSmall(num_classes)
