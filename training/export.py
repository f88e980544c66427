"""Export a checkpoint to ONNX (dynamic batch), check it, prove parity with PyTorch, write its card."""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from pipeline.classifier import DigitClassifier, softmax
from pipeline.digit_input import CLASSES, INPUT_SIZE
from pipeline.model_card import ModelCard, card_path
from training.data.dataset import make_eval_set
from training.data.sources import load_source

PARITY_TOLERANCE = 1e-4
OPSET = 17


class ParityError(ValueError):
    pass


def export_onnx(model: nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 1, INPUT_SIZE, INPUT_SIZE)
    tmp = path.with_suffix(".onnx.tmp")
    torch.onnx.export(
        model.eval(),
        (dummy,),
        str(tmp),
        input_names=["digits"],
        output_names=["logits"],
        dynamic_axes={"digits": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(str(tmp)))
    tmp.replace(path)


def parity(model: nn.Module, onnx_path: Path, canvases: np.ndarray, temperature: float) -> float:
    """Max |p_torch - p_onnxruntime| over a real batch; raises ParityError above the tolerance."""
    from pipeline.digit_input import to_model_input

    with torch.no_grad():
        ref = softmax(model.eval()(torch.from_numpy(to_model_input(canvases))).numpy(), temperature)
    clf = DigitClassifier(onnx_path, prefer_gpu=False)
    got = softmax(clf.logits(canvases), clf.card.temperature)  # every class, marks too
    diff = float(np.abs(ref - got).max())
    if diff > PARITY_TOLERANCE:
        raise ParityError(f"onnxruntime differs from PyTorch by {diff:.2e} > {PARITY_TOLERANCE:.0e}")
    return diff


def _initialisation(t: dict[str, Any]) -> str:
    """Where the weights started; for a model trained on from an earlier export, that one's own run."""
    init = str(t.get("init", "from scratch"))
    before = t.get("init_training")
    if not isinstance(before, dict):
        return init
    val = before.get("final_val") or {}
    acc = val.get("val_digit_acc") if isinstance(val, dict) else None
    return (
        f"{init}, the model shipped before this one: {before.get('epochs_done', '?')} epochs, "
        f"{before.get('init', '?')}, batch {before.get('batch_size', '?')}, lr {before.get('lr', '?')}"
        + (f", validation digit accuracy {float(acc):.2%}" if acc is not None else "")
    )


def _averaged(t: dict[str, Any]) -> list[tuple[str, str]]:
    """The card's row for a model whose weights were averaged after training (`actas-train average`)."""
    avg = t.get("average")
    if not isinstance(avg, dict):
        return []
    w = float(avg.get("weight_of_with", 0.0))
    return [("weights averaged", f"{1 - w:.2f} x this run's weights + {w:.2f} x {avg.get('with', '?')}")]


def markdown_card(card: ModelCard) -> str:
    m: dict[str, Any] = card.metrics
    t: dict[str, Any] = card.training
    c: dict[str, Any] = card.calibration

    def pct(v: object) -> str:
        return f"{float(v):.2%}" if isinstance(v, int | float) else "not measured"

    rows = [
        ("architecture", f"{card.architecture} (timm for ConvNeXt), {card.parameters:,} parameters"),
        ("classes, in output order", ", ".join(f"`{x}`" for x in card.classes)),
        (
            "input",
            f"1 x {card.input_size} x {card.input_size}, {card.ink}, digit fitted to 20 px and centred "
            "by mass (`pipeline/digit_input.py`)",
        ),
        ("normalisation", f"(pixel / 255 - {card.mean}) / {card.std}"),
        ("output", f"logits; probabilities = softmax(logits / T), T = {card.temperature}"),
        (
            "training data",
            f"{t.get('source', '?')} train split minus {t.get('val_size', '?')} held out for "
            f"validation, acta-style augmentation (a share of {t.get('clean_fraction', 0)} of the digits "
            f"left unaugmented), {t.get('blank_fraction', '?')} synthetic blanks per digit",
        ),
        (
            "schedule",
            f"{t.get('epochs_done', '?')} epochs of {t.get('epochs', '?')} planned, batch "
            f"{t.get('batch_size', '?')}, AdamW lr {t.get('lr', '?')}, wd {t.get('weight_decay', '?')}, "
            f"seed {t.get('seed', '?')}, weights EMA {t.get('ema_decay', '?')}",
        ),
        ("initialisation", _initialisation(t)),
        *_averaged(t),
        ("hardware", str(t.get("hardware", "?"))),
        (
            "test digit accuracy (onnxruntime)",
            f"{pct(m.get('digit_accuracy'))} on {m.get('n_digits', '?')} {t.get('source', '')} test digits",
        ),
        (
            "blank recall",
            f"{pct(m.get('blank_recall'))} on {m.get('n_blanks', '?')} held-out synthetic blanks; "
            f"digits read as blank {pct(m.get('digits_read_as_blank'))}",
        ),
        (
            "calibration (validation)",
            f"ECE {c.get('ece_before', '?')} before, {c.get('ece_after', '?')} after temperature scaling",
        ),
    ]
    if t.get("real"):
        scans = t.get("real_scans") or {}
        parts = [
            f"{Path(k).name}: {len(v['train'])} scans trained on, {len(v['validation'])} kept for "
            f"validation, {len(v['heldout'])} held out"
            for k, v in scans.items()
        ]
        rows.insert(
            5,
            (
                "real digits",
                f"{'; '.join(parts)} (x{t.get('real_repeat')} an epoch, {t.get('mark_count')} synthetic `X` an epoch)",
            ),
        )
    real = m.get("real")
    if isinstance(real, dict):
        rows.append(
            (
                "held-out real digits (onnxruntime)",
                f"{pct(real.get('digit_accuracy'))} of {real.get('n_digits')} digits, "
                f"the `1` {pct(real.get('one_accuracy'))}, blank recall {pct(real.get('blank_recall'))}, "
                f"`X` read as no digit {pct(real.get('marks_read_as_no_digit'))} "
                f"of {real.get('n_marks')}, on {real.get('scans')} scans never trained on (docs/real-digits.md)",
            )
        )
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    retrain = "\n".join(
        [
            "python -m training train --model convnext_tiny --source emnist --data-dir PATH/TO/EMNIST \\",
            "    --run-dir runs/cnx --epochs 20",
            "python -m training calibrate --checkpoint runs/cnx/best.pt",
            "python -m training evaluate --checkpoint runs/cnx/best.pt --out runs/cnx/eval",
            "python -m training export --checkpoint runs/cnx/best.pt --out models/convnext_tiny.onnx \\",
            "    --metrics runs/cnx/eval/metrics.json",
            "python -m training evaluate --onnx models/convnext_tiny.onnx --out runs/cnx/eval-onnx",
            "# the recipe of the shipped model: real digits harvested from real actas, docs/real-digits.md",
        ]
    )
    return (
        f"# Model card: {card.name}\n\nDigit classifier of actas-ocr: reads one handwritten digit (or `blank`) "
        f"from a vote box.\n\n| | |\n|---|---|\n{table}\n\n## Training data, honestly\n{card.notes}\n\n"
        f"## Retraining\n```\n{retrain}\n```\n"
    )


REAL_NOTES = (
    "Fine-tuned from the MNIST-only model (its record: `init_training`) on MNIST digits with acta-like "
    "augmentation, synthetic blanks and crosses, and real boxes harvested from real Bolivian actas "
    "(`actas harvest build`): the 2019 presidente boxes labelled from the official results, the 2020 boxes "
    "labelled by hand (`labels/bo2020-general.tsv`). Split by scan, never by digit: `real_scans` lists, "
    "per dataset, the scans trained on, the training scans kept to choose the epoch and fit the "
    "temperature, and the held-out scans (never trained on) that `metrics.real` comes from. Classes: the "
    "ten digits, `blank`, and `X`, the cross jurors write in an unused box, which the reader folds into "
    "`blank` only on forms that declare it. EMNIST and ImageNet weights cannot be downloaded here."
)

NOTES = (
    "Trained from scratch on MNIST (60,000 digits of US Census staff and students) plus synthetic blank "
    "boxes, with augmentation meant to look like acta handwriting (flagged 1s, barred 7s, slant, stroke "
    "width, blur, border fragments). EMNIST and ImageNet weights cannot be downloaded on the machine "
    "that trained it. Users who can reach them should retrain: `--source emnist --data-dir DIR` reads "
    "the official EMNIST IDX files (or `--download` fetches them through torchvision), and "
    "`--pretrained` starts ConvNeXt-Tiny from timm's ImageNet weights. MNIST is not Bolivian "
    "handwriting: judge the model on real actas (`actas eval`), not on its MNIST figure."
)


def _init_training(init: str | None) -> dict[str, Any] | None:
    """The training record of the exported model this run started from (read before it is overwritten)."""
    if not init or not init.endswith(".onnx") or not card_path(Path(init)).is_file():
        return None
    before = json.loads(card_path(Path(init)).read_text()).get("training")
    return before if isinstance(before, dict) else None


def real_scans(cfg: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Per harvested dataset: the scans trained on, kept for validation, and held out (by file name)."""
    from training.data.real import scan_sha, scan_share

    out: dict[str, dict[str, list[str]]] = {}
    for root in cfg.get("real") or []:
        manifest = Path(root) / "manifest.jsonl"
        if not manifest.is_file():
            continue
        scans: dict[str, tuple[str, str]] = {}
        for line in manifest.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            sha = scan_sha(row)
            scans[sha] = (row.get("scan", sha[:16]), row.get("split", "train"))
        record: dict[str, list[str]] = {"train": [], "validation": [], "heldout": []}
        for sha, (name, split) in sorted(scans.items(), key=lambda kv: kv[1][0]):
            if split == "heldout":
                record["heldout"].append(name)
            else:
                val = scan_share(sha, int(cfg["seed"]) + 1) < float(cfg.get("real_val", 0.0))
                record["validation" if val else "train"].append(name)
        out[str(root)] = record
    return out


def _real_summary(report: dict[str, Any], stem: str) -> dict[str, Any]:
    """The exported model's row of an `evaluate-real` report: its only row, or the one named after the file."""
    models = report.get("models", {})
    name = next(iter(models)) if len(models) == 1 else next((k for k in models if k.endswith(f"({stem})")), None)
    if name is None:
        raise ValueError(f"no model named ...({stem}) in the real-digit report: {', '.join(models)}")
    m = models[name]
    keep = ("n_digits", "digit_accuracy", "one_accuracy", "blank_recall", "marks_read_as_no_digit", "n_marks")
    return {"scans": report.get("scans"), **{k: m[k] for k in keep}, "error_at_coverage": m["error_at_coverage"]}


def run_export(args: argparse.Namespace) -> int:
    from training.engine import TrainConfig, load_trained

    model, state = load_trained(args.checkpoint)
    # a checkpoint saved before a TrainConfig field existed was trained with that field's default
    cfg = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    cfg |= state["config"]
    calib_path = args.calibration or args.checkpoint.parent / "calibration.json"
    calib = json.loads(Path(calib_path).read_text()) if Path(calib_path).is_file() else {}
    temperature = float(calib.get("temperature", 1.0))
    metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
    metrics = {k: v for k, v in metrics.items() if k not in ("confusion",)}
    if getattr(args, "real_metrics", None):  # `actas-train evaluate-real`: held-out real boxes
        metrics["real"] = _real_summary(json.loads(args.real_metrics.read_text()), args.out.stem)
    history = state.get("history", [])
    card = ModelCard(
        name=args.out.stem,
        architecture=cfg["model"],
        classes=[*CLASSES, *cfg.get("marks", [])],
        temperature=temperature,
        parameters=sum(p.numel() for p in model.parameters()),
        training={
            **{
                k: cfg[k]
                for k in (
                    "source",
                    "epochs",
                    "batch_size",
                    "lr",
                    "weight_decay",
                    "seed",
                    "val_size",
                    "blank_fraction",
                    "clean_fraction",
                    "ema_decay",
                    "label_smoothing",
                    "limit",
                    "real",
                    "real_repeat",
                    "real_val",
                    "marks",
                    "mark_count",
                )
            },
            "epochs_done": len(history),
            "steps": state["step"],
            "init": cfg.get("init") or ("ImageNet (timm)" if cfg.get("pretrained") else "from scratch"),
            "hardware": args.hardware or f"{platform.processor() or platform.machine()}, CPU",
            "final_val": history[-1] if history else None,
            "init_training": _init_training(cfg.get("init")),
            **({"average": cfg["average"]} if cfg.get("average") else {}),
            "real_scans": real_scans(cfg),
        },
        metrics=metrics,
        calibration=calib,
        notes=REAL_NOTES if cfg.get("real") else NOTES,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    card_path(args.out).write_text(card.model_dump_json(indent=2))
    export_onnx(model, args.out)
    sample = make_eval_set(load_source(cfg["source"], args.data_dir, "test").subset(np.arange(256)), 32, 7)
    diff = parity(model, args.out, sample.canvases, temperature)
    args.out.with_suffix(".md").write_text(markdown_card(card))
    size = args.out.stat().st_size / 1e6
    print(f"exported {args.out} ({size:.1f} MB), onnx.checker ok, parity max |dp| = {diff:.2e} on 288 inputs")
    return 0
