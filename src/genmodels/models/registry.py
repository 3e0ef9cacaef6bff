"""Model names for configs and the CLI, resolved to classes only when asked for.

The built-in families are listed here by module, so ``genmodels models`` and a saved
``config.json`` can name a family without importing every family first. A user's own family
joins with :func:`register_model`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from genmodels.errors import ConfigError

if TYPE_CHECKING:
    from genmodels.models.base import GenerativeModel

BUILTIN_MODELS: dict[str, str] = {
    "vae": "genmodels.models.vae.mlp",
    "conv-vae": "genmodels.models.vae.conv",
    "smiles-vae": "genmodels.models.vae.smiles",
    "gan": "genmodels.models.gan.mlp",
    "dcgan": "genmodels.models.gan.dcgan",
    "wgan-gp": "genmodels.models.gan.dcgan",
    "made": "genmodels.models.autoregressive.made",
    "pixelcnn": "genmodels.models.autoregressive.pixelcnn",
    "gpt": "genmodels.models.autoregressive.gpt",
    "charrnn": "genmodels.models.autoregressive.char_rnn",
    "tabular-vae": "genmodels.models.tabular.vae",
    "tabular-made": "genmodels.models.tabular.made",
    "flow": "genmodels.models.flow.vector",
    "tabular-flow": "genmodels.models.flow.tabular",
    "image-flow": "genmodels.models.flow.image",
    "flow-matching": "genmodels.models.diffusion.flow_matching",
    "diffusion": "genmodels.models.diffusion.diffusion",
    "ensemble": "genmodels.ensembles.ensemble",
}
"""Registered name -> the module whose ``@register_model`` defines it."""


class ModelRegistry(Mapping[str, "type[GenerativeModel]"]):
    """Registered name -> model class; a built-in family's module is imported on first lookup."""

    def __init__(self) -> None:
        self._classes: dict[str, type[GenerativeModel]] = {}

    def add(self, name: str, cls: type[GenerativeModel]) -> None:
        if name in BUILTIN_MODELS and cls.__module__ != BUILTIN_MODELS[name]:
            raise ConfigError(f"a model named {name!r} is already registered (built in, {BUILTIN_MODELS[name]})")
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise ConfigError(f"a model named {name!r} is already registered ({known.__name__})")
        self._classes[name] = cls

    def __getitem__(self, name: str) -> type[GenerativeModel]:
        if name not in self._classes and name in BUILTIN_MODELS:
            importlib.import_module(BUILTIN_MODELS[name])
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(BUILTIN_MODELS) | set(self._classes)))

    def __len__(self) -> int:
        return len(set(BUILTIN_MODELS) | set(self._classes))

    def __contains__(self, name: object) -> bool:
        return name in BUILTIN_MODELS or name in self._classes


MODEL_REGISTRY = ModelRegistry()


def register_model(name: str) -> Callable[[type[GenerativeModel]], type[GenerativeModel]]:
    """Class decorator: make a model available to configs and the CLI under ``name``."""

    def register(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        MODEL_REGISTRY.add(name, cls)
        cls.model_type = name
        return cls

    return register


def get_model_class(name: str) -> type[GenerativeModel]:
    """The class registered as ``name``, with the registered names in the error when there is none."""
    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise KeyError(f"no model named {name!r}; registered models: {', '.join(MODEL_REGISTRY)}") from None


def build_model(name: str, **config_values: Any) -> GenerativeModel:
    """Instantiate a registered model from plain config values (as found in JSON)."""
    from genmodels.models.sizing import build_model_checked  # here: the registry itself loads without torch

    cls = get_model_class(name)
    return build_model_checked(cls, cls.config_class.from_dict(config_values))
