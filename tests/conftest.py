import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def private_cache_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Cached reference statistics go to a folder of the test session, never to the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENMODELS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def binary_images() -> torch.Tensor:
    """64 binary 8x8 images with structure (a bar per row), so models have something to learn."""
    generator = torch.Generator().manual_seed(0)
    base = torch.zeros(64, 1, 8, 8)
    rows = torch.randint(0, 8, (64,), generator=generator)
    base[torch.arange(64), 0, rows, :] = 1.0
    flips = torch.rand(base.shape, generator=generator) < 0.05
    return torch.where(flips, 1.0 - base, base)
