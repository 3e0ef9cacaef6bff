"""An input's complexity as its compressed length (Serra et al., 2020), the correction behind ``input_complexity``.

Likelihood models rate simple inputs as likely whatever their content; subtracting the length of
a lossless compression of the input removes most of that bias.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image


def compressed_length_nats(x: torch.Tensor) -> torch.Tensor:
    """Each image's length as a losslessly compressed 8-bit PNG, in nats: a complexity estimate L(x)."""
    images = (x.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    lengths = []
    for image in images:  # (channels, height, width)
        array = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG", optimize=True)
        lengths.append(len(buffer.getvalue()) * 8 * math.log(2))
    return torch.tensor(lengths)
