"""Identify which form a scan is and register it to that form's reference frame.

ORB keypoints of the scan (downscaled to WORK_WIDTH) are matched against each template variant's
reference (keypoints taken outside the masked regions only), with Lowe's ratio test and a robust
homography (OpenCV's USAC with local optimisation: on a wrong reference it gives up in about 1 ms where
plain RANSAC ran its 3,000 iterations, about 47 ms; on the right one its refined warp puts the boxes
closer to their printed lines, which upside-down scans needed). When ORB finds little (blurred,
low-contrast or photographed scans), SIFT, slower but more tolerant, tries again. ORB is rotation
invariant, so upside-down and rotated scans register too; the homography absorbs perspective (phone
photos), scale (150-400 dpi) and cropped or padded margins. The variant with the most inliers wins;
its inlier count, squashed to 0-1, is the template score.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.errors import NotAForm
from pipeline.templates import Template, VariantSpec

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
Descriptors = npt.NDArray[np.uint8] | npt.NDArray[np.float32]  # ORB's bits or SIFT's floats

WORK_WIDTH = 1000  # registration runs on a copy this wide; the homography is scaled back
N_FEATURES = 4000
RATIO = 0.75
RANSAC_PX = 6.0  # reprojection threshold, reference-frame pixels
MIN_INLIERS = 40  # fewer: not this form (measured: 400+ on real scans, under 20 on other images)
SCORE_HALF = 60  # inliers at which the score is 0.5


@dataclass(frozen=True)
class Registration:
    template: Template
    variant: VariantSpec
    scan_to_ref: F64  # 3x3, full-resolution scan pixel -> reference-frame pixel
    inliers: int
    score: float
    candidates: dict[str, int]  # "template/variant" -> inliers, for diagnostics


FLANN_SEED = 0
ORB_CONFIDENT = 100  # ORB inliers above which SIFT is not tried


@dataclass(frozen=True)
class _Reference:
    template: Template
    variant: VariantSpec
    points: npt.NDArray[np.float32]  # keypoints in the reference frame
    descriptors: Descriptors


class _Detector:
    """One kind of keypoint (ORB or SIFT) with every reference's features, each in its own FLANN index
    (LSH for ORB's binary descriptors, KD-trees for SIFT's): built once, about twice as fast to query
    as brute force here. One index per reference, because the ratio test must not compare a feature
    with its twin on another variant of the same form."""

    def __init__(self, kind: str, templates: dict[str, Template]) -> None:
        self.kind = kind
        self.lock = threading.Lock()  # OpenCV does not promise that one matcher may serve two threads
        if kind == "orb":
            self.features: cv2.Feature2D = cv2.ORB.create(nfeatures=N_FEATURES, fastThreshold=12)
        else:
            self.features = cv2.SIFT.create(nfeatures=N_FEATURES)
        self.references = [self._reference(t, v) for t in templates.values() for v in t.variants]
        self.indexes = [self._index(ref.descriptors) for ref in self.references]

    def _index(self, descriptors: Descriptors) -> cv2.FlannBasedMatcher:
        # FLANN's LSH tables and KD-trees are drawn from OpenCV's (thread-local) random state: seed it for
        # each index, so a reference's index, and the readings, do not depend on which other references
        # were built before it (adding a form used to change the readings of another).
        cv2.setRNGSeed(FLANN_SEED)
        params: dict[str, bool | int | float | str]
        if self.kind == "orb":
            params = {"algorithm": 6, "table_number": 6, "key_size": 12, "multi_probe_level": 1}  # LSH
        else:
            params = {"algorithm": 1, "trees": 4}  # KD-trees
        matcher = cv2.FlannBasedMatcher(params, {"checks": 64})
        matcher.add([descriptors])
        matcher.train()
        return matcher

    def _reference(self, template: Template, variant: VariantSpec) -> _Reference:
        img = template.reference_image(variant)
        small, scale = _working_copy(img)
        mask = np.full(small.shape, 255, np.uint8)
        to_small = scale * img.shape[1] / variant.size[0]  # reference frame -> working copy
        for x, y, w, h in variant.masked:  # keypoints on a mask's edge are artefacts of the masking
            pad = 6
            cv2.rectangle(
                mask,
                (int(x * to_small) - pad, int(y * to_small) - pad),
                (int((x + w) * to_small) + pad, int((y + h) * to_small) + pad),
                0,
                -1,
            )
        kps, desc = self.features.detectAndCompute(small, mask)
        if desc is None or len(kps) < MIN_INLIERS:
            raise ValueError(f"template {template.id}/{variant.id}: too few features in its reference image")
        pts = np.array([kp.pt for kp in kps], np.float32) / to_small
        return _Reference(template, variant, pts, _descriptors(desc))

    def candidates(self, small: U8, scale: float, only: str | None) -> list[tuple[int, _Reference, F64]]:
        """(inliers, reference, scan->reference homography) for every reference that matched."""
        with self.lock:
            kps, desc = self.features.detectAndCompute(small, None)
        if desc is None or len(kps) < 8:
            return []
        scan_pts = np.array([kp.pt for kp in kps], np.float32) / scale
        out = []
        for ref, index in zip(self.references, self.indexes, strict=True):
            if only and ref.template.id != only:
                continue
            found = self._match(scan_pts, _descriptors(desc), ref, index)
            out.append((found[0], ref, found[1]) if found else (0, ref, np.eye(3)))
        return out

    def _match(
        self, scan_pts: npt.NDArray[np.float32], desc: Descriptors, ref: _Reference, index: cv2.FlannBasedMatcher
    ) -> tuple[int, F64] | None:
        with self.lock:
            pairs = index.knnMatch(desc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
        if len(good) < 8:
            return None
        src = scan_pts[[m.queryIdx for m in good]]
        dst = ref.points[[m.trainIdx for m in good]]
        found, mask = cv2.findHomography(src, dst, cv2.USAC_ACCURATE, RANSAC_PX, maxIters=3000, confidence=0.995)
        if found is None or mask is None:
            return None
        h = np.asarray(found, np.float64)
        if not _plausible(h, ref.variant.size):
            return None
        return int(mask.sum()), h


def _working_copy(gray: U8) -> tuple[U8, float]:
    scale = WORK_WIDTH / max(gray.shape[:2])
    if scale >= 1:
        return gray, 1.0
    return np.asarray(cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8), scale


class FormRegistrar:
    """Holds every variant's reference features; `register(gray)` identifies and registers a scan."""

    def __init__(self, templates: dict[str, Template]) -> None:
        self.templates = templates
        self._orb = _Detector("orb", templates)
        self._sift = _Detector("sift", templates)  # built now: a lazy build would race in threads

    def register(self, gray: U8, only: str | None = None) -> Registration:
        """The most probable registration."""
        return self.register_ranked(gray, only)[0]

    def register_ranked(self, gray: U8, only: str | None = None) -> list[Registration]:
        """Every plausible registration (ORB's, and SIFT's when ORB is weak), most inliers first, so a
        caller that finds the boxes missing under the first can try the next."""
        if only and only not in self.templates:
            raise NotAForm(f"unknown template {only!r}; known: {', '.join(sorted(self.templates))}")
        small, scale = _working_copy(gray)
        found = self._orb.candidates(small, scale, only)
        if max((c[0] for c in found), default=0) < ORB_CONFIDENT:
            found = found + self._sift.candidates(small, scale, only)
        candidates: dict[str, int] = {}
        for n, r, _ in found:
            name = f"{r.template.id}/{r.variant.id}"
            candidates[name] = max(n, candidates.get(name, 0))
        ranked = sorted((c for c in found if c[0] >= MIN_INLIERS), key=lambda c: -c[0])
        if not ranked:
            got = max(candidates.values(), default=0)
            raise NotAForm(f"the image matches no known form ({got} matching features, {MIN_INLIERS} needed)")
        return [
            Registration(ref.template, ref.variant, h, n, round(n / (n + SCORE_HALF), 4), candidates)
            for n, ref, h in ranked
        ]


def _descriptors(desc: npt.NDArray[np.generic]) -> Descriptors:
    return np.asarray(desc, np.uint8) if desc.dtype == np.uint8 else np.asarray(desc, np.float32)


def _plausible(h: F64, size: tuple[int, int]) -> bool:
    """Reject degenerate warps: the form's outline must map to a convex, non-tiny quadrilateral."""
    w, hh = size
    corners = np.array([[[0, 0]], [[w, 0]], [[w, hh]], [[0, hh]]], np.float32)
    try:
        quad = cv2.perspectiveTransform(corners, np.linalg.inv(h))
    except np.linalg.LinAlgError:
        return False
    return bool(cv2.isContourConvex(quad.astype(np.float32))) and cv2.contourArea(quad) > 1e3


def register_pair(reference: U8, gray: U8) -> tuple[F64, int] | None:
    """(homography `gray` pixel -> `reference` pixel, inliers) for two copies of one form, no template
    needed (authoring registers its samples to one another); None when they do not match."""
    feats = cv2.SIFT.create(nfeatures=N_FEATURES)
    ref_small, ref_scale = _working_copy(reference)
    small, scale = _working_copy(gray)
    k1, d1 = feats.detectAndCompute(ref_small, None)
    k2, d2 = feats.detectAndCompute(small, None)
    if d1 is None or d2 is None or len(k1) < 8 or len(k2) < 8:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(d2, d1, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = np.array([k2[m.queryIdx].pt for m in good], np.float32) / scale
    dst = np.array([k1[m.trainIdx].pt for m in good], np.float32) / ref_scale
    found, mask = cv2.findHomography(src, dst, cv2.USAC_ACCURATE, RANSAC_PX, maxIters=3000, confidence=0.995)
    if found is None or mask is None or int(mask.sum()) < MIN_INLIERS:
        return None
    h = np.asarray(found, np.float64)
    if not _plausible(h, (reference.shape[1], reference.shape[0])):
        return None
    return h, int(mask.sum())
