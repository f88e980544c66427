"""Identify which form a scan is and register it to that form's reference frame.

ORB keypoints of the scan (downscaled to WORK_WIDTH) are matched against each template variant's
reference (keypoints taken outside the masked regions only), with Lowe's ratio test and a robust
homography (OpenCV's USAC with local optimisation: on a wrong reference it gives up in about 1 ms where
plain RANSAC ran its 3,000 iterations, about 47 ms; on the right one its refined warp puts the boxes
closer to their printed lines, which upside-down scans needed). Identification is cheap first: an
even sample of 600 of the scan's 4,000 ORB keypoints ranks the references, and only those near the best
are matched with every keypoint (the sample's pairs kept, only the other keypoints queried); the rest
only for a caller that asks past them (the boxes were not where the first put them). When ORB finds little (blurred,
low-contrast or photographed scans), SIFT, slower but more tolerant, tries again. ORB is rotation
invariant, so upside-down and rotated scans register too; the homography absorbs perspective (phone
photos), scale (150-400 dpi) and cropped or padded margins. The variant with the most inliers wins;
its inlier count, squashed to 0-1, is the template score.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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
# The quick look that ranks the references: a sample of the scan's keypoints, spread evenly over ORB's
# list (the strongest alone cluster on handwriting and noise: a synthetic runoff scan got 6 quick inliers
# on its form). Measured on the 112 real scans of ../shared (2019, 2020, 2025): the form got at least 33
# quick inliers, a wrong form at most 0.13 of the best, a sister print variant up to 0.9; the winner by
# full inliers was always in the shortlist. Checked against matching every reference in full on those
# and 1,000 synthetic actas (`bench.compare_readings`): the same readings.
QUICK_FEATURES = 600  # keypoints in the sample
QUICK_SURE = 20  # quick inliers under which the quick look says nothing: every reference is matched in full
QUICK_SHARE = 0.4  # references under this share of the best's quick inliers are not matched in full


class _Indexes:
    """Copies of one reference's FLANN index, one per query running at once (OpenCV does not promise that
    one matcher may serve two threads). Every copy is built from the same seed, so which copy answers does
    not change the matches."""

    def __init__(self, build: Callable[[], cv2.FlannBasedMatcher]) -> None:
        self._build = build
        self._free = [build()]
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[cv2.FlannBasedMatcher]:
        with self._lock:
            index = self._free.pop() if self._free else None
        index = index or self._build()
        try:
            yield index
        finally:
            with self._lock:
                self._free.append(index)


@dataclass(frozen=True)
class _Reference:
    template: Template
    variant: VariantSpec
    points: npt.NDArray[np.float32]  # keypoints in the reference frame
    indexes: _Indexes  # its own: the ratio test must not compare with a sister variant's twin feature


@dataclass(frozen=True)
class _ScanFeatures:
    points: npt.NDArray[np.float32]  # keypoints, full-resolution scan pixels
    descriptors: Descriptors
    sample: npt.NDArray[np.intp]  # indices of QUICK_FEATURES keypoints spread over the list
    # the quick look's pairs per reference (by id), so the full match queries only the other keypoints
    quick_pairs: dict[int, list[tuple[int, int]]] = field(default_factory=dict)


_Found = list[tuple[int, _Reference, F64]]
_Map = Callable[..., Iterator[Any]]  # `map`, or a thread pool's


class _Detector:
    """One kind of keypoint (ORB or SIFT) with every reference's features, each in its own FLANN index
    (LSH for ORB's binary descriptors, KD-trees for SIFT's): built once, about twice as fast to query
    as brute force here. One index per reference, because the ratio test must not compare a feature
    with its twin on another variant of the same form.

    `each` maps over tasks (`map`, or a pool's); `parts` splits a scan's descriptors into that many runs
    of queries matched at once: each query's neighbours do not depend on the others, so the matches, in
    query order, are the same however they are split."""

    def __init__(self, kind: str, templates: dict[str, Template], each: _Map = map, parts: int = 1) -> None:
        self.kind = kind
        self.each = each
        self.parts = parts
        self.lock = threading.Lock()  # nor one detector
        if kind == "orb":
            self.features: cv2.Feature2D = cv2.ORB.create(nfeatures=N_FEATURES, fastThreshold=12)
        else:
            self.features = cv2.SIFT.create(nfeatures=N_FEATURES)
        # ORB is the first try: a reference it finds too little in is refused at start-up. SIFT, the
        # second, is built on first use, during a read: a reference it finds too little in is left out
        # of its tries rather than failing that read (and every read after).
        refs = (self._reference(t, v, required=kind == "orb") for t in templates.values() for v in t.variants)
        self.references = [r for r in refs if r is not None]

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

    def _reference(self, template: Template, variant: VariantSpec, required: bool = True) -> _Reference | None:
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
            if not required:
                return None
            raise ValueError(f"template {template.id}/{variant.id}: too few features in its reference image")
        pts = np.array([kp.pt for kp in kps], np.float32) / to_small
        ref_desc = _descriptors(desc)
        return _Reference(template, variant, pts, _Indexes(lambda: self._index(ref_desc)))

    def scan(self, small: U8, scale: float) -> _ScanFeatures | None:
        """The scan's keypoints (full-resolution pixels) and descriptors; None when there are too few."""
        with self.lock:
            kps, desc = self.features.detectAndCompute(small, None)
        if desc is None or len(kps) < 8:
            return None
        sample = np.unique(np.linspace(0, len(kps) - 1, min(QUICK_FEATURES, len(kps))).round().astype(np.intp))
        return _ScanFeatures(np.array([kp.pt for kp in kps], np.float32) / scale, _descriptors(desc), sample)

    def refs(self, only: str | None) -> list[_Reference]:
        return [r for r in self.references if not only or r.template.id == only]

    def candidates(self, scan: _ScanFeatures | None, refs: list[_Reference]) -> _Found:
        """(inliers, reference, scan->reference homography) for each of these references, all keypoints."""
        if scan is None:
            return []
        # A query's neighbours do not depend on the other queries: the sample's pairs from the quick look
        # stand, merged in query order with those of the keypoints it left out (the same pairs as one
        # full match, about 15% fewer queries).
        seen = [r for r in refs if id(r) in scan.quick_pairs]
        unseen = [r for r in refs if id(r) not in scan.quick_pairs]
        left_out = np.setdiff1d(np.arange(len(scan.descriptors)), scan.sample)
        every = np.arange(len(scan.descriptors))
        pairs = dict(zip(map(id, unseen), self._match(scan.descriptors, unseen, every), strict=True))
        for r, more in zip(seen, self._match(scan.descriptors, seen, left_out), strict=True):
            pairs[id(r)] = list(heapq.merge(scan.quick_pairs[id(r)], more))
        found = [self._fit(scan.points, pairs[id(r)], r) for r in refs]
        return [(f[0], r, f[1]) if f else (0, r, np.eye(3)) for f, r in zip(found, refs, strict=True)]

    def shortlist(self, scan: _ScanFeatures | None, only: str | None) -> tuple[list[_Reference], list[_Reference]]:
        """The references worth a full match (near the best by the sample's inliers), and the rest."""
        refs = self.refs(only)
        if scan is None or len(refs) < 2:
            return refs, []
        quick_pairs = self._match(scan.descriptors, refs, scan.sample)
        scan.quick_pairs.update(zip(map(id, refs), quick_pairs, strict=True))
        found = [self._fit(scan.points, p, r) for p, r in zip(quick_pairs, refs, strict=True)]
        quick = [f[0] if f else 0 for f in found]
        if max(quick) < QUICK_SURE:
            return refs, []
        bar = QUICK_SHARE * max(quick)
        order = sorted(range(len(refs)), key=lambda k: -quick[k])
        return [refs[k] for k in order if quick[k] >= bar], [refs[k] for k in order if quick[k] < bar]

    def _match(
        self, desc: Descriptors, refs: list[_Reference], rows: npt.NDArray[np.intp]
    ) -> list[list[tuple[int, int]]]:
        """Per reference, the pairs of these query rows (ascending) that pass Lowe's ratio test, in query
        order; the rows split in `parts` runs matched at once."""
        if not refs:
            return []
        runs = [r for r in np.array_split(rows, self.parts) if len(r)]
        pairs = list(self.each(lambda task: self._pairs(desc, *task), [(r, q) for r in refs for q in runs]))
        return [[p for part in pairs[i * len(runs) : (i + 1) * len(runs)] for p in part] for i in range(len(refs))]

    def _pairs(self, desc: Descriptors, ref: _Reference, rows: npt.NDArray[np.intp]) -> list[tuple[int, int]]:
        """(scan keypoint, reference keypoint) of these queries that pass the ratio test, in query order."""
        with ref.indexes.borrow() as index:
            found = index.knnMatch(desc[rows], k=2)
        good = (p[0] for p in found if len(p) == 2 and p[0].distance < RATIO * p[1].distance)
        return [(int(rows[m.queryIdx]), m.trainIdx) for m in good]

    def _fit(
        self, scan_pts: npt.NDArray[np.float32], good: list[tuple[int, int]], ref: _Reference
    ) -> tuple[int, F64] | None:
        if len(good) < 8:
            return None
        src = scan_pts[[q for q, _ in good]]
        dst = ref.points[[t for _, t in good]]
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

    def __init__(self, templates: dict[str, Template], threads: int = 1) -> None:
        """`threads` > 1: the references are matched that many at a time (a reading's latency; a worker
        per core keeps 1)."""
        self.templates = templates
        self._each: _Map = ThreadPoolExecutor(threads, "register").map if threads > 1 else map
        self._threads = threads
        self._orb = _Detector("orb", templates, self._each, threads)
        # SIFT's references cost 1.6 s to build, most of a reader's start-up, and only scans ORB
        # registers weakly (photos) need them: built on first use, under a lock (two threads may ask)
        self._sift_built: _Detector | None = None
        self._sift_lock = threading.Lock()

    @property
    def _sift(self) -> _Detector:
        with self._sift_lock:
            if self._sift_built is None:
                self._sift_built = _Detector("sift", self.templates, self._each, self._threads)
            return self._sift_built

    def register(self, gray: U8, only: str | None = None) -> Registration:
        """The most probable registration."""
        return next(self.register_ranked(gray, only))

    def register_ranked(self, gray: U8, only: str | None = None) -> Iterator[Registration]:
        """Every plausible registration (ORB's, and SIFT's when ORB is weak), most inliers first, so a
        caller that finds the boxes missing under the first can try the next. The references the quick
        look left out are matched only when the caller gets past the others. Raises `NotAForm` at once."""
        if only and only not in self.templates:
            raise NotAForm(f"unknown template {only!r}; known: {', '.join(sorted(self.templates))}")
        small, scale = _working_copy(gray)
        scan = self._orb.scan(small, scale)
        near, rest = self._orb.shortlist(scan, only)
        found = self._orb.candidates(scan, near)
        if max((c[0] for c in found), default=0) < ORB_CONFIDENT:
            sift = self._sift
            found += sift.candidates(sift.scan(small, scale), sift.refs(only))
        first = _ranked(found)
        if not first and rest:  # nothing near: every reference gets its full match before "not a form"
            found += self._orb.candidates(scan, rest)
            first, rest = _ranked(found), []
        if not first:
            got = max((c[0] for c in found), default=0)
            raise NotAForm(f"the image matches no known form ({got} matching features, {MIN_INLIERS} needed)")
        return itertools.chain(first, self._later(scan, rest, found))

    def _later(self, scan: _ScanFeatures | None, rest: list[_Reference], found: _Found) -> Iterator[Registration]:
        if rest:
            yield from _ranked(self._orb.candidates(scan, rest), context=found)


def _ranked(found: _Found, context: _Found | None = None) -> list[Registration]:
    """Registrations with enough inliers, most first; `candidates` names every reference matched so far."""
    candidates: dict[str, int] = {}
    for n, r, _ in [*(context or []), *found]:
        name = f"{r.template.id}/{r.variant.id}"
        candidates[name] = max(n, candidates.get(name, 0))
    ranked = sorted((c for c in found if c[0] >= MIN_INLIERS), key=lambda c: -c[0])
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
