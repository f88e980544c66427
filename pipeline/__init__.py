"""actas-ocr pipeline: scan -> registered form -> boxes -> digits -> counts -> checks."""
