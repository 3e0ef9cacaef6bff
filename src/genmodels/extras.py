"""Optional dependency groups (``pip install "genmodels[molecules]"``), checked where a feature needs one."""

from __future__ import annotations

import importlib.util

from genmodels.errors import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "molecules": ("rdkit", "selfies", "fcd_torch"),
    "diffusion": ("torchdiffeq",),
    "serve": ("fastapi", "uvicorn", "multipart", "prometheus_client"),
    "streaming": ("pyarrow", "datasets"),
    "ray": ("ray", "pyarrow"),
}
"""Extra -> the modules it installs, as imported."""


def require_extra(extra: str, feature: str) -> None:
    """Raise a :class:`MissingExtraError` naming ``extra`` when any of its modules is missing."""
    missing = [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingExtraError(
            f"{feature} needs the '{extra}' extra ({', '.join(missing)} not installed): "
            f'pip install "genmodels[{extra}]"'
        )
