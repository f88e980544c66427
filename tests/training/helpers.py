"""Shared by the training tests: a checkpoint made in a second or two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import MNIST
from training.engine import TrainConfig, Trainer


def train_briefly(model: str, run: Path, **overrides: Any) -> Path:
    """One epoch over 64 MNIST digits (or fewer steps); the checkpoint it leaves."""
    cfg = TrainConfig(
        model=model,
        data_dir=str(MNIST),
        run_dir=str(run),
        epochs=1,
        batch_size=16,
        limit=64,
        val_size=100,
        save_every=0,
        threads=2,
        **overrides,
    )
    Trainer(cfg).fit()
    return run / "last.pt"
