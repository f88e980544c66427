"""Tesseract, the off-the-shelf OCR a user would try first, on the same digit cells as our classifiers.

    python -m bench.tesseract_digits [--mnist 1000] [--model X.onnx ...] [DIR ...]

Two sets of cells: the boxes of the real actas, cut by our pipeline and labelled from `truth.json`
(bench/cells.py: only fields read right, so every label is known), and MNIST test digits. Tesseract
(Debian's `tesseract-ocr`) gets each cell as dark ink on white, enlarged 3x with a white margin, in
single-character mode (`--psm 10`) with a digits-only whitelist; an empty answer means blank. Our
models get the same cells as the pipeline gives them. Prints accuracy on digits and on blank boxes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from bench.cells import acta_cells
from bench.samples import DEFAULT_DIRS, MNIST_DIR, scans_in
from pipeline.classifier import DigitClassifier
from pipeline.config import SHIPPED_MODEL, ReaderConfig
from pipeline.digit_input import BLANK, CLASSES, center_digit
from pipeline.reader import ActaReader
from training.data.sources import load_mnist


def tesseract_read(canvases: npt.NDArray[np.uint8]) -> list[str]:
    """One character (or "" for nothing) per canvas, in one tesseract run over a list of images."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, canvas in enumerate(canvases):
            img = cv2.resize(255 - canvas, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
            img = cv2.copyMakeBorder(img, 32, 32, 32, 32, cv2.BORDER_CONSTANT, value=255)
            path = Path(tmp) / f"{i:06d}.png"
            cv2.imwrite(str(path), img)
            paths.append(str(path))
        listing = Path(tmp) / "list.txt"
        listing.write_text("\n".join(paths) + "\n")
        out = subprocess.run(
            ["tesseract", str(listing), "stdout", "--psm", "10", "-c", "tessedit_char_whitelist=0123456789"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    pages = out.split("\f")
    if len(pages) < len(canvases):  # one form feed per image: anything else would misalign the labels
        raise RuntimeError(f"tesseract gave {len(pages)} pages for {len(canvases)} images")
    return [p.strip()[:1] for p in pages[: len(canvases)]]


def score(name: str, predicted: list[str], labels: list[str]) -> str:
    digits = [i for i, lab in enumerate(labels) if lab != "_"]
    blanks = [i for i, lab in enumerate(labels) if lab == "_"]
    d_acc = np.mean([predicted[i] == labels[i] for i in digits]) if digits else float("nan")
    b_acc = np.mean([predicted[i] in ("", "_") for i in blanks]) if blanks else float("nan")
    return f"  {name:28s} digits {d_acc:7.2%} (n={len(digits)})   blank boxes left blank {b_acc:7.2%} (n={len(blanks)})"


def model_labels(clf: DigitClassifier, canvases: npt.NDArray[np.uint8]) -> list[str]:
    return ["_" if k == BLANK else CLASSES[k] for k in clf.predict(canvases).labels]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", type=Path, nargs="*", default=DEFAULT_DIRS, help="folders of scans with truth.json")
    p.add_argument("--mnist", type=int, default=1000, help="MNIST test digits to score (0: none)")
    p.add_argument("--mnist-dir", type=Path, default=MNIST_DIR)
    p.add_argument("--model", type=Path, action="append", help="more ONNX models to score (the shipped one always)")
    args = p.parse_args(argv)
    if shutil.which("tesseract") is None:
        print("tesseract not found: apt-get install tesseract-ocr")
        return 2
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    reader = ActaReader.from_config(ReaderConfig(model=SHIPPED_MODEL, prefer_gpu=False))
    models = {SHIPPED_MODEL.stem: reader.classifier}
    models |= {m.stem: DigitClassifier(m, prefer_gpu=False) for m in args.model or []}

    sets: dict[str, tuple[npt.NDArray[np.uint8], list[str]]] = {}
    canvases, labels = [], []
    for f in scans_in(args.dirs):
        cells = acta_cells(reader, f)
        keep = [i for i, lab in enumerate(cells.labels) if lab != "?"]
        canvases.append(cells.canvases[keep])
        labels += [cells.labels[i] for i in keep]
    if labels:
        sets["real acta boxes"] = (np.concatenate(canvases), labels)
    if args.mnist:
        test = load_mnist(args.mnist_dir, "test")
        idx = np.linspace(0, len(test.labels) - 1, args.mnist).astype(int)
        sets["MNIST test digits"] = (
            np.stack([center_digit(img) for img in test.images[idx]]),
            [str(int(k)) for k in test.labels[idx]],
        )
    print(f"Tesseract: {version}, --psm 10, digits whitelist")
    for set_name, (x, y) in sets.items():
        print(f"{set_name}:")
        print(score("tesseract", tesseract_read(x), y))
        for name, clf in models.items():
            print(score(name, model_labels(clf, x), y))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
