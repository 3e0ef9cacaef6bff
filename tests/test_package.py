"""The package surface: lazy public names, the model registry, the version and the optional extras."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

import genmodels
from genmodels.errors import MissingExtraError
from genmodels.extras import require_extra
from genmodels.models.base import GenerativeModel
from genmodels.models.registry import BUILTIN_MODELS, MODEL_REGISTRY, get_model_class, register_model


def test_import_genmodels_loads_no_heavy_dependency():
    code = (
        "import sys, genmodels; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'numpy', 'pandas', 'sklearn', 'rdkit'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_every_public_name_resolves_and_is_listed():
    for name in genmodels.__all__:
        assert getattr(genmodels, name) is not None, name
    assert set(genmodels.__all__) <= set(dir(genmodels))
    from genmodels.models.vae.mlp import VAE

    assert genmodels.VAE is VAE
    with pytest.raises(AttributeError, match="no attribute 'NotAModel'"):
        genmodels.NotAModel  # noqa: B018


def test_version_comes_from_the_installed_metadata():
    assert genmodels.__version__ == importlib.metadata.version("genmodels")


def test_every_builtin_name_resolves_to_its_class():
    assert set(BUILTIN_MODELS) <= set(MODEL_REGISTRY) and list(MODEL_REGISTRY) == sorted(MODEL_REGISTRY)
    for name in BUILTIN_MODELS:
        model_class = get_model_class(name)
        assert issubclass(model_class, GenerativeModel) and model_class.model_type == name


def test_unknown_and_duplicate_names_are_refused():
    with pytest.raises(KeyError, match="registered models: .*vae"):
        get_model_class("no-such-model")
    with pytest.raises(ValueError, match="already registered"):
        register_model("vae")(type("OtherVAE", (GenerativeModel,), {}))


def test_a_missing_extra_is_named_with_its_install_command(monkeypatch):
    monkeypatch.setattr("genmodels.extras.importlib.util.find_spec", lambda module: None)
    with pytest.raises(MissingExtraError, match=r'rdkit.*pip install "genmodels\[molecules\]"'):
        require_extra("molecules", "molecule generation")
