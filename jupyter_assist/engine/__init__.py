"""Inference engine: one worker owns the model (see engine.py)."""

from .engine import Engine, EngineNotReady, RemoteOptions, SwitchRefused, UnknownModel
from .loading import LoadOptions
from .models import ModelError
from .types import GenerationParams, Request

__all__ = ["Engine", "EngineNotReady", "GenerationParams", "LoadOptions", "ModelError", "RemoteOptions", "Request", "SwitchRefused", "UnknownModel"]
