"""The training loop: AdamW, warm-up plus cosine schedule, weight EMA, checkpoints you can resume.

A run lives in one directory: `config.json`, `last.pt` (written every `save_every` steps and at each
epoch's end), `best.pt` (best validation accuracy), `history.json` (metrics per epoch). `--resume`
continues from `last.pt` at the exact batch it stopped at, since each epoch's order and each image's
augmentation are functions of (seed, epoch, index).
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset
from tqdm import tqdm

from pipeline.digit_input import BLANK, CLASSES
from training.data.dataset import AugmentedDigits, EvalSet, MarkSet, make_eval_set
from training.data.real import RealDigits, RealTrainSet, load_real, scan_share
from training.data.sources import load_source, train_val_split
from training.models import create_model
from training.models.layers import use_dense_depthwise
from training.onnx_weights import state_dict_from_onnx


@dataclass
class TrainConfig:
    model: str
    data_dir: str
    run_dir: str
    source: str = "mnist"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.03
    label_smoothing: float = 0.05
    ema_decay: float = 0.999
    blank_fraction: float = 0.1
    clean_fraction: float = 0.0
    val_size: int = 5000
    seed: int = 0
    threads: int = 0
    workers: int = 0
    save_every: int = 100
    limit: int = 0  # use only this many training digits (tests, quick runs)
    max_steps: int = 0  # stop after this many optimiser steps in this invocation (tests)
    max_minutes: float = 0.0  # stop (resumable) after this long: a lent GPU machine runs one call for 10 min
    device: str = "auto"  # "cpu", "cuda", "cuda:1"...; auto: the GPU when torch sees one
    pretrained: bool = False
    pretrained_file: str | None = None
    init: str | None = None
    download: bool = False
    # Harvested real digits (`actas harvest build` datasets): their `train` split is trained on, `repeat`
    # times an epoch; the scans of `real_val` share of it (chosen by sha256) are kept for validation.
    real: list[str] = field(default_factory=list)
    real_repeat: int = 4
    real_val: float = 0.15
    # No-digit marks learnt as classes after the digits and `blank` (e.g. ["X"]), `mark_count` synthetic
    # ones an epoch besides the real ones.
    marks: list[str] = field(default_factory=list)
    mark_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [*CLASSES, *self.marks]


def model_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    if cfg.model == "convnext_tiny":
        return {"pretrained": cfg.pretrained, "pretrained_file": cfg.pretrained_file}
    return {}


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    warm = max(1, int(total * cfg.warmup_frac))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits on the CPU, computed in batches on whatever device the model is on."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def eval_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    pred = logits.argmax(1)
    digits = labels != BLANK
    blanks = ~digits
    return {
        "loss": float(F.cross_entropy(logits, labels)),
        "acc": float((pred == labels).float().mean()),
        "digit_acc": float((pred[digits] == labels[digits]).float().mean()) if digits.any() else float("nan"),
        "blank_recall": float((pred[blanks] == BLANK).float().mean()) if blanks.any() else float("nan"),
        "digit_as_blank": float((pred[digits] == BLANK).float().mean()) if digits.any() else float("nan"),
    }


def save_checkpoint(state: dict[str, Any], path: Path) -> Path:
    """Write `state` to `path` through a temporary file beside it: an interrupted save never leaves a
    broken checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        self.cfg = cfg
        self.run = Path(cfg.run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        data = load_source(cfg.source, Path(cfg.data_dir), "train", cfg.download)
        train, _ = train_val_split(data, cfg.val_size, cfg.seed)
        if cfg.limit:
            train = train.subset(np.arange(min(cfg.limit, len(train))))
        parts: list[Dataset[tuple[torch.Tensor, int]]] = [
            AugmentedDigits(train, cfg.blank_fraction, cfg.seed, clean_fraction=cfg.clean_fraction)
        ]
        if cfg.real:
            real_train, _ = real_split(cfg)
            parts.append(RealTrainSet(real_train, cfg.real_repeat, cfg.seed))
            print(f"real digits: {len(real_train)} from {len(set(real_train.scans))} scans, x{cfg.real_repeat}")
        if cfg.marks and cfg.mark_count:
            parts.append(MarkSet(cfg.mark_count, [len(CLASSES) + i for i in range(len(cfg.marks))], cfg.seed))
        self.parts = parts
        self.train_set: Dataset[tuple[torch.Tensor, int]] = ConcatDataset(parts)
        self.val: EvalSet = validation_set(cfg)
        self.model = create_model(cfg.model, num_classes=len(cfg.classes), **model_kwargs(cfg))
        if cfg.init:
            init_weights(self.model, cfg)
        self.device = pick_device(cfg.device)
        self.model.to(self.device)
        if self.device.type == "cuda":  # TF32 matmuls and tuned convolutions: fp32 weights, faster steps
            torch.set_float32_matmul_precision("high")
            torch.backends.cudnn.benchmark = True
        if self.device.type == "cpu":
            use_dense_depthwise(self.model)  # same maths, faster CPU backward; export builds the plain model
        self.ema = copy.deepcopy(self.model).eval() if cfg.ema_decay > 0 else None
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for name, p in self.model.named_parameters():
            (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
        )
        self.steps_per_epoch = math.ceil(len(self.train_set) / cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.best_acc = -1.0
        if resume and (self.run / "last.pt").exists():
            self._load(self.run / "last.pt")
        (self.run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))

    # -- checkpoints -------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "opt": self.opt.state_dict(),
            "step": self.step,
            "history": self.history,
            "best_acc": self.best_acc,
            "config": asdict(self.cfg),
        }

    def _save(self, name: str) -> None:
        save_checkpoint(self._state(), self.run / name)

    def _load(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=False)
        self.model.load_state_dict(state["model"])
        if self.ema is not None and state.get("ema"):
            self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step, self.history, self.best_acc = state["step"], state["history"], state["best_acc"]
        print(f"resumed {path} at step {self.step} (epoch {self.step // self.steps_per_epoch})")

    # -- loop ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        d = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.ema.state_dict().values(), self.model.state_dict().values(), strict=True):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(p.detach(), alpha=1 - d)
            else:
                e.copy_(p)

    def eval_model(self) -> nn.Module:
        return self.ema if self.ema is not None else self.model

    def validate(self) -> dict[str, float]:
        x, y = self.val.tensors()
        return eval_metrics(predict_logits(self.eval_model(), x), y)

    def fit(self) -> list[dict[str, float]]:
        cfg = self.cfg
        steps_this_call, started = 0, time.time()
        while self.step < self.total_steps:
            epoch, offset = divmod(self.step, self.steps_per_epoch)
            for part in self.parts:
                part.set_epoch(epoch)  # type: ignore[attr-defined]
            order = np.random.default_rng((cfg.seed, epoch)).permutation(len(self.train_set))  # type: ignore[arg-type]
            batches = [order[i : i + cfg.batch_size].tolist() for i in range(0, len(order), cfg.batch_size)]
            loader = DataLoader(
                self.train_set,
                batch_sampler=batches[offset:],
                num_workers=cfg.workers,
                pin_memory=self.device.type == "cuda",
            )
            self.model.train()
            bar = tqdm(
                loader,
                desc=f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}",
                initial=offset,
                total=len(batches),
                dynamic_ncols=True,
                mininterval=5.0,
            )
            run_loss, run_correct, run_n, t0 = 0.0, 0, 0, time.time()
            for x, y in bar:
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                for g in self.opt.param_groups:
                    g["lr"] = lr_at(self.step, self.total_steps, cfg)
                logits = self.model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.step += 1
                steps_this_call += 1
                self._update_ema()
                run_loss += float(loss.detach()) * len(y)
                run_correct += int((logits.argmax(1) == y).sum())
                run_n += len(y)
                bar.set_postfix(
                    loss=f"{run_loss / run_n:.4f}",
                    acc=f"{run_correct / run_n:.4f}",
                    img_s=f"{run_n / (time.time() - t0):.0f}",
                    refresh=False,
                )
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self._save("last.pt")
                out_of_time = cfg.max_minutes and time.time() - started > cfg.max_minutes * 60
                if (cfg.max_steps and steps_this_call >= cfg.max_steps) or out_of_time:
                    bar.close()
                    self._save("last.pt")
                    return self.history
            bar.close()
            metrics = {
                "epoch": epoch + 1,
                "step": self.step,
                "lr": lr_at(self.step - 1, self.total_steps, cfg),
                "train_loss": run_loss / max(1, run_n),
                "train_acc": run_correct / max(1, run_n),
            }
            metrics.update({f"val_{k}": v for k, v in self.validate().items()})
            self.history.append(metrics)
            print(json.dumps(metrics), flush=True)
            if metrics["val_acc"] > self.best_acc:
                self.best_acc = metrics["val_acc"]
                self._save("best.pt")
            self._save("last.pt")
            (self.run / "history.json").write_text(json.dumps(self.history, indent=2))
        return self.history


def real_split(cfg: TrainConfig) -> tuple[RealDigits, RealDigits]:
    """The real digits of the datasets' `train` split, parted by scan into training and validation."""
    real = load_real([Path(p) for p in cfg.real], cfg.classes, "train")
    val = np.array([scan_share(s, cfg.seed + 1) < cfg.real_val for s in real.scans], bool)

    def pick(mask: npt.NDArray[np.bool_]) -> RealDigits:
        idx = np.flatnonzero(mask)
        return RealDigits(
            real.canvases[idx], real.labels[idx], [real.scans[i] for i in idx], [real.sources[i] for i in idx]
        )

    return pick(~val), pick(val)


def validation_set(cfg: TrainConfig) -> EvalSet:
    """MNIST's held-back digits with synthetic blanks, plus the real validation scans' boxes: what the
    best epoch is chosen on and the temperature fitted to."""
    data = load_source(cfg.source, Path(cfg.data_dir), "train", cfg.download)
    _, val = train_val_split(data, cfg.val_size, cfg.seed)
    mnist = make_eval_set(val, n_blanks=max(1, len(val) // 10), seed=cfg.seed + 1000)
    if not cfg.real:
        return mnist
    _, real_val = real_split(cfg)
    return EvalSet(np.concatenate([mnist.canvases, real_val.canvases]), np.concatenate([mnist.labels, real_val.labels]))


def init_weights(model: nn.Module, cfg: TrainConfig) -> None:
    """Start from `cfg.init` (a checkpoint, a state dict or an exported .onnx). Where the start had fewer
    classes (a mark class added), its output rows are copied and the new rows keep their fresh init."""
    assert cfg.init
    model.load_state_dict(weights_for(model, cfg.model, Path(cfg.init)))


def weights_for(model: nn.Module, arch: str, path: Path) -> dict[str, torch.Tensor]:
    """`model`'s state dict with the weights of `path` (a checkpoint, a state dict or an exported .onnx of
    architecture `arch`). Where `path` has fewer classes, its output rows fill the first rows and the
    others keep `model`'s."""
    n_before = len(CLASSES)
    if path.suffix == ".onnx":  # e.g. continue training the shipped model
        from pipeline.model_card import card_path

        card = card_path(path)
        if card.is_file():
            n_before = len(json.loads(card.read_text()).get("classes", CLASSES))
        donor = create_model(arch, num_classes=n_before)
        state = state_dict_from_onnx(path, donor)
    else:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        state = raw.get("ema") or raw.get("model") or raw
    target = {k: v.clone() for k, v in model.state_dict().items()}
    for name, value in state.items():
        if name not in target:
            raise ValueError(f"{path}: weight {name} is not in a {arch}")
        have = target[name]
        if have.shape == value.shape:
            target[name] = value
        elif have.ndim == value.ndim and have.shape[1:] == value.shape[1:] and have.shape[0] > value.shape[0]:
            target[name][: value.shape[0]] = value  # the head: old classes' rows kept
        else:
            raise ValueError(f"{path}: weight {name} {tuple(value.shape)} does not fit {tuple(have.shape)}")
    return target


def load_trained(checkpoint: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The evaluation weights (EMA where trained with it) and config of a checkpoint."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = state["config"]
    model = create_model(cfg["model"], num_classes=len(CLASSES) + len(cfg.get("marks", [])))
    model.load_state_dict(state["ema"] or state["model"])
    return model.eval(), state
