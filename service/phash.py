"""A perceptual hash of a scan, to recognise a near-duplicate of a stored one (a re-encoded, resized or
grayscale copy of the same paper), as KawalC1 keeps for the Indonesian C1 forms.

DCT hash: the image in grayscale at 64x64, its 2-D DCT, the 16x16 lowest frequencies, one bit each for
above or below their median: 256 bits, 64 hex digits. On the 112 real scans in ../shared/data/actas,
JPEG re-encodings (quality 60 and 85), grayscale copies and 70% resizes of a scan differed from it by
at most 4 bits; two different actas of the same form by at least 28 (4,975 pairs). `crud` calls scans
within 12 bits near-duplicates.
"""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 64
KEEP = 16


def perceptual_hash(data: bytes) -> str | None:
    """64 hex digits, or None when the bytes do not decode (the reader will have said why)."""
    # A quarter-size decode is enough for 64x64 and several times faster on a JPEG (DCT scaling).
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if img is None or img.size == 0:
        return None
    small = cv2.resize(img, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:KEEP, :KEEP].ravel()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2).to_bytes(KEEP * KEEP // 8, "big").hex()


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
