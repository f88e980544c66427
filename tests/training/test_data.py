"""Digit data: IDX reading on real MNIST, EMNIST's transposition, augmentation and synthetic blanks."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.digit_input import INPUT_SIZE, center_digit, to_model_input
from pipeline.idx import read_idx
from tests.conftest import MNIST
from training.data.augment import augment_digit
from training.data.blanks import synth_blank
from training.data.dataset import AugmentedDigits
from training.data.sources import load_emnist_digits, load_mnist, train_val_split


def test_real_mnist_test_split() -> None:
    test = load_mnist(MNIST, "test")
    assert test.images.shape == (10000, 28, 28) and test.images.dtype == np.uint8
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_validation_split_is_disjoint_and_seeded() -> None:
    test = load_mnist(MNIST, "test")
    a_train, a_val = train_val_split(test, 500, seed=1)
    _b_train, b_val = train_val_split(test, 500, seed=1)
    assert len(a_val) == 500 and len(a_train) == 9500
    assert np.array_equal(a_val.labels, b_val.labels)


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_emnist_is_transposed_back(tmp_path: Path) -> None:
    digit = np.zeros((28, 28), np.uint8)
    digit[2:26, 13:15] = 255  # a vertical bar, i.e. a `1` in MNIST orientation
    for split in ("train", "test"):
        _write_idx(tmp_path / f"emnist-digits-{split}-images-idx3-ubyte.gz", digit.T[None])
        _write_idx(tmp_path / f"emnist-digits-{split}-labels-idx1-ubyte.gz", np.array([1]))
    data = load_emnist_digits(tmp_path, "train")
    assert np.array_equal(data.images[0], digit) and data.labels.tolist() == [1]


def test_missing_emnist_without_download_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="emnist-digits-train-images"):
        load_emnist_digits(tmp_path, "train")


def test_truncated_idx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">3I", 10, 28, 28) + b"\x00" * 100)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_augmentation_is_seeded_and_keeps_the_digit() -> None:
    test = load_mnist(MNIST, "test")
    for i in range(20):
        a = augment_digit(test.images[i], int(test.labels[i]), np.random.default_rng(i))
        b = augment_digit(test.images[i], int(test.labels[i]), np.random.default_rng(i))
        assert a.shape == (INPUT_SIZE, INPUT_SIZE) and a.dtype == np.uint8
        assert np.array_equal(a, b)
        ys = np.nonzero((a > 40).any(axis=1))[0]
        assert ys.size and ys.max() - ys.min() >= 12  # the digit is still there, roughly 20 px tall


def test_blanks_hold_nothing_digit_sized_inside_the_box() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        blank = synth_blank(rng)
        inner = blank[4:-4, 4:-4] > 80  # edge fragments live in the outer 4 px band
        _n, _, stats, _ = cv2.connectedComponentsWithStats(inner.astype(np.uint8))
        tallest = max((int(s[cv2.CC_STAT_HEIGHT]) for s in stats[1:]), default=0)
        assert tallest < 10


def test_clean_fraction_leaves_that_share_of_digits_as_the_pipeline_centres_them() -> None:
    test = load_mnist(MNIST, "test").subset(np.arange(400))
    plain = [center_digit(img) for img in test.images]

    def clean_share(fraction: float) -> float:
        ds = AugmentedDigits(test, blank_fraction=0.0, seed=3, clean_fraction=fraction)
        return float(np.mean([np.array_equal(to_model_input(plain[i])[0], ds[i][0].numpy()) for i in range(len(ds))]))

    assert clean_share(0.0) == 0.0
    assert 0.2 < clean_share(0.3) < 0.4
    assert clean_share(1.0) == 1.0
