"""Digit classifiers created by name: `create_model("convnext_tiny")`, `list_models()`."""

from training.models import alexnet, convnext, lenet  # noqa: F401  (registers the architectures)
from training.models.registry import create_model, list_models

__all__ = ["create_model", "list_models"]
