"""A small registry of digit-classifier architectures, timm-style: each module registers a factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from pipeline.digit_input import CLASSES

ModelFactory = Callable[..., nn.Module]
_REGISTRY: dict[str, ModelFactory] = {}


def register_model(fn: ModelFactory) -> ModelFactory:
    """Decorator: register `fn` under its function name."""
    if fn.__name__ in _REGISTRY:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, num_classes: int = len(CLASSES), **kwargs: Any) -> nn.Module:
    """Build a registered model for single-channel input and `num_classes` outputs."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    return _REGISTRY[name](num_classes=num_classes, **kwargs)
