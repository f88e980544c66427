"""`python -m training` / `actas-train`: train, evaluate, calibrate, export and compare digit classifiers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def _add_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="train one model (resumable)")
    p.add_argument("--model", required=True, help="lenet5, alexnet or convnext_tiny")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="directory of the IDX files")
    p.add_argument("--source", default="mnist", choices=["mnist", "emnist"])
    p.add_argument("--download", action="store_true", help="EMNIST only: fetch it with torchvision if missing")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--label-smoothing", type=float, default=0.05)
    p.add_argument("--ema-decay", type=float, default=0.999, help="0 disables the weight EMA")
    p.add_argument("--blank-fraction", type=float, default=0.1)
    p.add_argument("--clean-fraction", type=float, default=0.0, help="share of digits left unaugmented")
    p.add_argument("--val-size", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N (default: the GPU when there is one)")
    p.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    p.add_argument("--save-every", type=int, default=100, help="checkpoint every N steps")
    p.add_argument("--limit", type=int, default=0, help="train on the first N digits only")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps in this call")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop after N minutes, resumable")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    p.add_argument("--pretrained", action="store_true", help="ConvNeXt: start from timm's ImageNet weights")
    p.add_argument("--pretrained-file", help="ConvNeXt: timm's ImageNet weights from a local file")
    p.add_argument("--init", type=Path, help="start from a checkpoint, a state dict or an exported .onnx file")
    p.add_argument(
        "--real", type=Path, action="append", default=[], help="a harvested dataset (`actas harvest build`); repeatable"
    )
    p.add_argument("--real-repeat", type=int, default=4, help="times each real digit is seen an epoch")
    p.add_argument("--real-val", type=float, default=0.15, help="share of the real training scans kept to validate")
    p.add_argument("--marks", nargs="*", default=[], help="no-digit marks learnt as classes (e.g. X)")
    p.add_argument("--mark-count", type=int, default=0, help="synthetic marks an epoch")


def _add_evaluate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("evaluate", help="test accuracy, per-class P/R/F1, confusion matrix and curves")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="a training checkpoint (PyTorch)")
    src.add_argument("--onnx", type=Path, help="an exported model (onnxruntime), with its card beside it")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--source", default="mnist", choices=["mnist", "emnist"])
    p.add_argument("--out", type=Path, required=True, help="directory for metrics.json and the PNGs")
    p.add_argument("--history", type=Path, help="history.json of the run, for the training-curve PNG")
    p.add_argument("--blanks", type=int, default=2000, help="held-out synthetic blanks to add")


def _add_evaluate_real(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("evaluate-real", help="exported models on real harvested digits of held-out scans")
    p.add_argument("--onnx", type=Path, nargs="+", required=True, help="exported models (cards beside them)")
    p.add_argument("--real", type=Path, action="append", required=True, help="a harvested dataset; repeatable")
    p.add_argument("--split", default="heldout", choices=["heldout", "train", "all"])
    p.add_argument("--out", type=Path, required=True, help="directory for the table, JSON and plot")


def _add_quantize(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("quantize", help="an exported model with int8 weights for the CPU, calibrated on training data")
    p.add_argument("--onnx", type=Path, required=True, help="the exported float model (card beside it)")
    p.add_argument("--real", type=Path, action="append", required=True, help="a harvested dataset; repeatable")
    p.add_argument("--mnist", type=Path, default=DEFAULT_DATA, help="MNIST IDX files (training digits calibrate)")
    p.add_argument("--count", type=int, default=400, help="real boxes, and MNIST digits, to measure ranges on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="the int8 model; its card is written beside it")


def _add_calibrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("calibrate", help="fit a softmax temperature on the validation split")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, help="where to write calibration.json (default: beside the checkpoint)")


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="ONNX export, onnx.checker, onnxruntime parity, model card")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="the .onnx file to write (card written beside it)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--calibration", type=Path, help="calibration.json (default: beside the checkpoint)")
    p.add_argument("--metrics", type=Path, help="metrics.json from evaluate, recorded in the card")
    p.add_argument("--hardware", default="", help="what it was trained on, for the card")
    p.add_argument(
        "--real-metrics", type=Path, help="real_metrics.json from evaluate-real (held-out real boxes), for the card"
    )


def _add_average(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("average", help="a checkpoint averaged with another model (e.g. its start)")
    p.add_argument("--checkpoint", type=Path, required=True, help="a training checkpoint (its EMA weights)")
    p.add_argument(
        "--with", dest="with_", type=Path, required=True, help="the other model: a checkpoint or an exported .onnx"
    )
    p.add_argument("--weight", type=float, default=0.5, help="the other model's share, 0 to 1")
    p.add_argument("--out", type=Path, required=True, help="the averaged checkpoint to write")


def _add_compare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="Markdown table of several exported models")
    p.add_argument("onnx", type=Path, nargs="+", help="exported .onnx files (cards beside them)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, help="write the table here as well as to stdout")
    p.add_argument("--batch", type=int, default=96)


def _add_pack(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pack", help="a checkpoint as small float16 parts plus a manifest (to leave a GPU machine)")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="directory for the parts and manifest.json")
    p.add_argument("--part-mib", type=float, default=15.0, help="largest part, in MiB")


def _add_unpack(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("unpack", help="check packed parts and join them into a float32 checkpoint")
    p.add_argument("pack_dir", type=Path, help="directory written by `pack`")
    p.add_argument("--out", type=Path, required=True, help="the checkpoint to write, e.g. runs/gpu/best.pt")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actas-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_train,
        _add_evaluate,
        _add_evaluate_real,
        _add_quantize,
        _add_calibrate,
        _add_export,
        _add_average,
        _add_compare,
        _add_pack,
        _add_unpack,
    ):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            from training.evaluate import run_evaluate

            return run_evaluate(args)
        if args.command == "evaluate-real":
            from training.real_eval import run_evaluate_real

            return run_evaluate_real(args)
        if args.command == "quantize":
            from training.quantize import run_quantize

            return run_quantize(args)
        if args.command == "calibrate":
            from training.calibration import run_calibrate

            return run_calibrate(args)
        if args.command == "export":
            from training.export import run_export

            return run_export(args)
        if args.command == "average":
            from training.average import run_average

            return run_average(args)
        if args.command == "compare":
            from training.compare import run_compare

            return run_compare(args)
        if args.command == "pack":
            from training.pack import pack

            parts = pack(args.checkpoint, args.out, args.part_mib)
            print(f"packed {args.checkpoint} into {len(parts)} parts in {args.out}")
            return 0
        if args.command == "unpack":
            from training.pack import unpack

            print(f"unpacked {unpack(args.pack_dir, args.out)}")
            return 0
    except (FileNotFoundError, ValueError) as exc:
        print(f"actas-train {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is kept (use --resume)", file=sys.stderr)
        return 130
    return 1


def _train(args: argparse.Namespace) -> int:
    from training.engine import TrainConfig, Trainer

    cfg = TrainConfig(
        model=args.model,
        data_dir=str(args.data_dir),
        run_dir=str(args.run_dir),
        source=args.source,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        ema_decay=args.ema_decay,
        blank_fraction=args.blank_fraction,
        clean_fraction=args.clean_fraction,
        val_size=args.val_size,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        workers=args.workers,
        save_every=args.save_every,
        limit=args.limit,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        pretrained=args.pretrained,
        pretrained_file=args.pretrained_file,
        init=str(args.init) if args.init else None,
        download=args.download,
        real=[str(p) for p in args.real],
        real_repeat=args.real_repeat,
        real_val=args.real_val,
        marks=list(args.marks),
        mark_count=args.mark_count,
    )
    history = Trainer(cfg, resume=args.resume).fit()
    if history:
        last = history[-1]
        print(f"done: epoch {last['epoch']}, val acc {last['val_acc']:.4f}, run in {cfg.run_dir}")
    return 0
