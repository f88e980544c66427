"""Every architecture is created by name, takes the one input contract, and learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pipeline.digit_input import CLASSES, center_digit, to_model_input
from tests.conftest import MNIST
from training.data.sources import load_mnist
from training.engine import TrainConfig, Trainer
from training.models import create_model, list_models


def test_registry() -> None:
    assert list_models() == ["alexnet", "convnext_tiny", "lenet5"]
    with pytest.raises(ValueError, match="unknown model"):
        create_model("resnet999")


@pytest.mark.parametrize(("name", "lr"), [("lenet5", 5e-3), ("alexnet", 3e-3), ("convnext_tiny", 1e-3)])
def test_architecture_learns_a_batch(name: str, lr: float) -> None:
    torch.manual_seed(0)
    test = load_mnist(MNIST, "test")
    x = torch.from_numpy(to_model_input(np.stack([center_digit(img) for img in test.images[:32]])))
    y = torch.from_numpy(test.labels[:32])
    model = create_model(name)
    assert model(x[:2]).shape == (2, len(CLASSES))

    def loss_now() -> float:
        model.eval()
        with torch.no_grad():
            return float(F.cross_entropy(model(x), y))

    before = loss_now()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(40):
        model.train()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_now() < 0.5 * before


def test_trainer_checkpoints_and_resumes(tmp_path: Path) -> None:
    cfg = TrainConfig(
        model="lenet5",
        data_dir=str(MNIST),
        run_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        limit=320,
        val_size=200,
        max_steps=3,
        save_every=0,
        threads=1,
    )
    Trainer(cfg).fit()
    assert (tmp_path / "last.pt").is_file()
    resumed = Trainer(cfg, resume=True)
    assert resumed.step == 3
    cfg_full = TrainConfig(**{**cfg.__dict__, "max_steps": 0})
    history = Trainer(cfg_full, resume=True).fit()
    assert len(history) == 1 and history[0]["step"] == 11  # ceil((320 + 32 blanks) / 32) steps
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "history.json").is_file()


def test_trainer_stops_on_its_time_budget_and_resumes(tmp_path: Path) -> None:
    cfg = TrainConfig(
        model="lenet5", data_dir=str(MNIST), run_dir=str(tmp_path), epochs=1, batch_size=32, limit=320,
        val_size=200, max_minutes=1e-6, save_every=0, threads=1,
    )  # fmt: skip
    assert Trainer(cfg).fit() == []  # out of time after the first step, before any epoch ended
    assert Trainer(cfg, resume=True).step == 1
    history = Trainer(TrainConfig(**{**cfg.__dict__, "max_minutes": 0.0}), resume=True).fit()
    assert history[0]["step"] == 11
