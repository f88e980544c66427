"""actas-ocr REST service: FastAPI over the pipeline."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("actas-ocr")  # the one version: pyproject.toml's, through the installed metadata
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
