"""Labelled digit sources: MNIST and EMNIST 'digits' as (images, labels) arrays, 28x28 uint8, white on black."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.idx import find_idx, read_idx


@dataclass(frozen=True)
class DigitSplit:
    images: npt.NDArray[np.uint8]  # (N, 28, 28)
    labels: npt.NDArray[np.int64]  # (N,)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, idx: npt.NDArray[np.int64]) -> DigitSplit:
        return DigitSplit(self.images[idx], self.labels[idx])


def load_mnist(root: Path, split: str) -> DigitSplit:
    """MNIST from the four official IDX files in `root` (split: 'train' or 't10k'/'test')."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(find_idx(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find_idx(root, f"{prefix}-labels-idx1-ubyte"))
    return DigitSplit(np.asarray(images, np.uint8), np.asarray(labels, np.int64))


def load_emnist_digits(root: Path, split: str, download: bool = False) -> DigitSplit:
    """EMNIST 'digits' from its official IDX files in `root` (emnist-digits-{train,test}-*).

    With `download=True` and no files present, torchvision's downloader fetches them (internet needed).
    EMNIST stores images transposed relative to MNIST; they are transposed back here.
    """
    prefix = "train" if split == "train" else "test"
    try:
        images = read_idx(find_idx(root, f"emnist-digits-{prefix}-images-idx3-ubyte"))
        labels = read_idx(find_idx(root, f"emnist-digits-{prefix}-labels-idx1-ubyte"))
    except FileNotFoundError:
        if not download:
            raise
        from torchvision.datasets import EMNIST  # training extra; only for users with the internet

        ds = EMNIST(str(root), split="digits", train=(split == "train"), download=True)
        images, labels = ds.data.numpy(), ds.targets.numpy()
    return DigitSplit(
        np.ascontiguousarray(np.asarray(images, np.uint8).transpose(0, 2, 1)), np.asarray(labels, np.int64)
    )


def load_source(name: str, root: Path, split: str, download: bool = False) -> DigitSplit:
    if name == "mnist":
        return load_mnist(root, split)
    if name == "emnist":
        return load_emnist_digits(root, split, download)
    raise ValueError(f"unknown data source {name!r} (mnist, emnist)")


def train_val_split(data: DigitSplit, val_size: int, seed: int) -> tuple[DigitSplit, DigitSplit]:
    """Hold out `val_size` examples, fixed by `seed`."""
    order = np.random.default_rng(seed).permutation(len(data))
    return data.subset(order[val_size:]), data.subset(order[:val_size])
