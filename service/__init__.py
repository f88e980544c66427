"""actas-ocr REST service: FastAPI over the pipeline."""
