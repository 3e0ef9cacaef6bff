"""Versions of the software a result was produced with, recorded in every result file."""

from __future__ import annotations

import platform
from importlib import metadata


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("genmodels", "torch", "lightning-fabric", "numpy", "safetensors"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
