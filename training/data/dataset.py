"""Torch datasets over the digit sources: augmented training digits plus synthetic blanks, and fixed
evaluation sets prepared exactly as the pipeline prepares a digit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from pipeline.digit_input import BLANK, center_digit, to_model_input
from training.data.augment import augment_digit
from training.data.blanks import synth_blank, synth_blanks
from training.data.marks import synth_x
from training.data.sources import DigitSplit


class AugmentedDigits(Dataset[tuple[torch.Tensor, int]]):
    """MNIST/EMNIST digits with acta-like augmentation, and `blank_fraction` synthetic blanks.

    `clean_fraction` of the digits skip the augmentation (only centred, as the pipeline does), so
    the plain handwriting stays in view next to the heavily distorted copies.

    Each item's randomness comes from (seed, epoch, index), so a run is reproducible whatever the
    number of loader workers, and a resumed epoch sees the same images.
    """

    def __init__(
        self, digits: DigitSplit, blank_fraction: float, seed: int, augment: bool = True, clean_fraction: float = 0.0
    ) -> None:
        self.digits = digits
        self.clean_fraction = clean_fraction
        self.n_blank = int(round(len(digits) * blank_fraction))
        self.seed = seed
        self.augment = augment
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.digits) + self.n_blank

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        if i < len(self.digits):
            label = int(self.digits.labels[i])
            img28 = self.digits.images[i]
            # the extra draw only when asked for, so runs made without it reproduce exactly
            clean = not self.augment or (self.clean_fraction > 0 and rng.random() < self.clean_fraction)
            canvas = center_digit(img28) if clean else augment_digit(img28, label, rng)
        else:
            label, canvas = BLANK, synth_blank(rng)
        return torch.from_numpy(to_model_input(canvas)[0]), label


class MarkSet(Dataset[tuple[torch.Tensor, int]]):
    """`n` synthetic no-digit marks an epoch, spread over the mark classes `labels` (today only `X`)."""

    def __init__(self, n: int, labels: list[int], seed: int) -> None:
        self.n, self.labels, self.seed, self.epoch = n, labels, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng((self.seed, self.epoch, i, 11))
        return torch.from_numpy(to_model_input(synth_x(rng))[0]), self.labels[i % len(self.labels)]


@dataclass(frozen=True)
class EvalSet:
    """Prepared canvases (N, S, S) uint8 and labels, digits first, then blanks."""

    canvases: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.int64]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(to_model_input(self.canvases)), torch.from_numpy(self.labels)


def make_eval_set(digits: DigitSplit, n_blanks: int, seed: int) -> EvalSet:
    """Digits through `center_digit` (no augmentation) plus `n_blanks` held-out synthetic blanks."""
    canv = [center_digit(img) for img in digits.images]
    blanks = synth_blanks(n_blanks, seed)
    canvases = np.concatenate([np.stack(canv), blanks]) if canv else blanks
    labels = np.concatenate([digits.labels, np.full(n_blanks, BLANK, np.int64)])
    return EvalSet(canvases, labels)
