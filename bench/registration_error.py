"""How far the registration's warp is from the truth, on synthetic actas (`actas synth` records where
each scan's corners went, so the true warp is known):

    python -m bench.registration_error DIR [DIR ...] [--limit 40]

For each scan, a 9x9 grid over the form's reference frame (and, apart, the centres of the template's
box groups) is sent to the scan by the true warp and back by the registration's; the distance it lands
from where it started, in reference pixels (a form is 1600 wide), is the error. Prints, per folder:
scans, the form and print variant found right, the median of the scans' median errors, the 95th
percentile and the largest of the scans' largest errors; over the form (its corners included, where a
warp is extrapolated) and at the box groups (where the reading is).
Use it before and after a change to registration: more inliers is not a better warp.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import NotAForm
from pipeline.registration import FormRegistrar
from pipeline.templates import load_templates


def true_warp(corners: list[list[float]], size: tuple[int, int]) -> np.ndarray:
    """Reference frame -> scan, from where `actas synth` put the form's corners."""
    w, h = size
    frame = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return np.asarray(cv2.getPerspectiveTransform(frame, np.array(corners, np.float32)), np.float64)


def point_error(scan_to_ref: np.ndarray, true: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Errors (reference px) at these reference-frame points (N, 2): `true` warp out, registered warp back."""
    pts = np.asarray(points, np.float32)[None]
    back = cv2.perspectiveTransform(cv2.perspectiveTransform(pts, true), scan_to_ref)
    return np.asarray(np.linalg.norm(back - pts, axis=2)[0])


def form_grid(size: tuple[int, int]) -> np.ndarray:
    """A 9x9 grid of the whole form, its corners included (where a warp is extrapolated)."""
    w, h = size
    return np.array([[x, y] for x in np.linspace(0, w, 9) for y in np.linspace(0, h, 9)], np.float32)


def grid_error(scan_to_ref: np.ndarray, corners: list[list[float]], size: tuple[int, int]) -> np.ndarray:
    """Errors at `form_grid`."""
    return point_error(scan_to_ref, true_warp(corners, size), form_grid(size))


def _summary(medians: list[float], largest: list[float]) -> str:
    return (
        f"median {np.median(medians):.2f}, 95th pct of each scan's largest {np.percentile(largest, 95):.2f}, "
        f"largest {max(largest):.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dirs", type=Path, nargs="+", help="folders written by `actas synth` (with synth.json)")
    p.add_argument("--limit", type=int, default=0, help="the first N scans of each folder (0: all)")
    args = p.parse_args(argv)

    registrar = FormRegistrar(load_templates(), threads=1)
    status = 0
    for d in args.dirs:
        meta_path = d / "synth.json"
        if not meta_path.is_file():
            print(f"{d}: no synth.json (not a folder written by `actas synth`)")
            status = 2
            continue
        try:
            meta = json.loads(meta_path.read_text())
            actas = list(meta["actas"].items())[: args.limit or None]
        except (json.JSONDecodeError, KeyError, AttributeError) as exc:
            print(f"{meta_path}: not a synth.json ({type(exc).__name__}: {exc})")
            status = 2
            continue
        right = 0
        # per place measured: each scan's median and largest error
        errors: dict[str, tuple[list[float], list[float]]] = {"over the form": ([], []), "at the box groups": ([], [])}
        for name, acta in actas:
            gray = cv2.imread(str(d / name), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                print(f"{d / name}: not readable")
                status = 2
                continue
            try:
                reg = registrar.register(np.asarray(gray, np.uint8))
            except NotAForm as exc:  # a result, not a bad input: counted as not found right
                print(f"{d / name}: not registered ({exc})")
                continue
            right += reg.template.id == meta["template"] and reg.variant.id == acta["variant"]
            if acta["scan"].get("turn", 0):
                continue  # the corners are recorded before the scan was turned: not compared
            true = true_warp(acta["scan"]["corners"], reg.variant.size)
            centres = np.array([[x + w / 2, y + h / 2] for x, y, w, h in reg.variant.boxes.values()], np.float32)
            for place, points in (("over the form", form_grid(reg.variant.size)), ("at the box groups", centres)):
                err = point_error(reg.scan_to_ref, true, points)
                errors[place][0].append(float(np.median(err)))
                errors[place][1].append(float(err.max()))
        if not errors["over the form"][0]:
            print(f"{d}: no scan compared")
            status = 2
            continue
        print(
            f"{d.name}: {len(actas)} scans, form and variant right {right}/{len(actas)}; warp error (ref px) "
            + "; ".join(f"{place}: {_summary(*e)}" for place, e in errors.items())
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
