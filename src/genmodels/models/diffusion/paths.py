"""Noise paths: how a model mixes data and noise over its time variable, x_t = a(t) * data + b(t) * noise.

Sampling runs from ``noise_end`` (almost pure noise) towards data. The probability-flow ODE of an
affine path is dx/dt = a'(t) D(x, t) + b'(t) N(x, t), D and N the model's estimates of the data and
the noise in x (Song et al., 2021; Karras et al., 2022, eq. 4), so one set of samplers serves every
path. ``sampling_times`` ends at a time where b = 0, so the last step lands on the denoised estimate.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

Coefficients = tuple[torch.Tensor, torch.Tensor]


class NoisePath(ABC):
    noise_end: float
    """Where sampling starts and the likelihood ODE ends; x there is taken as N(0, b(noise_end)^2 I)."""
    data_end: float
    """Where the adaptive solver and the likelihood ODE stop on the data side (b > 0 there)."""

    @abstractmethod
    def coefficients(self, t: torch.Tensor) -> Coefficients:
        """``(a(t), b(t))`` of x_t = a data + b noise."""

    @abstractmethod
    def derivatives(self, t: torch.Tensor) -> Coefficients:
        """``(a'(t), b'(t))``."""

    @abstractmethod
    def sampling_times(self, steps: int) -> torch.Tensor:
        """``steps + 1`` times from ``noise_end`` to a time where b = 0, float64."""

    def solver_time(self, t: float) -> float:
        """The variable the adaptive solver and the likelihood ODE integrate over (identity unless smoother)."""
        return t

    def time_of(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(t, dt/ds)`` at solver time ``s``."""
        return s, torch.ones_like(s)


class LinearPath(NoisePath):
    """Rectified flow / flow matching: x_t = (1 - t) data + t noise (Liu et al., 2023; Lipman et al., 2023)."""

    noise_end, data_end = 1.0, 0.0

    def coefficients(self, t: torch.Tensor) -> Coefficients:
        return 1.0 - t, t

    def derivatives(self, t: torch.Tensor) -> Coefficients:
        return -torch.ones_like(t), torch.ones_like(t)

    def sampling_times(self, steps: int) -> torch.Tensor:
        return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)


class KarrasPath(NoisePath):
    """EDM's variance-exploding path, time = noise level: x = data + sigma noise (Karras et al., 2022).

    Sampling steps follow their schedule sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) -
    sigma_max^(1/rho)))^rho, then 0.
    """

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> None:
        self.noise_end, self.data_end, self.rho = sigma_max, sigma_min, rho

    def coefficients(self, t: torch.Tensor) -> Coefficients:
        return torch.ones_like(t), t

    def derivatives(self, t: torch.Tensor) -> Coefficients:
        return torch.zeros_like(t), torch.ones_like(t)

    def solver_time(self, t: float) -> float:
        """ln sigma: the ODE in sigma is stiff near sigma = 0, in ln sigma it is not."""
        return math.log(t)

    def time_of(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma = s.exp()
        return sigma, sigma

    def sampling_times(self, steps: int) -> torch.Tensor:
        ramp = (
            torch.linspace(0.0, 1.0, steps, dtype=torch.float64) if steps > 1 else torch.zeros(1, dtype=torch.float64)
        )
        low, high = self.data_end ** (1 / self.rho), self.noise_end ** (1 / self.rho)
        sigmas = (high + ramp * (low - high)) ** self.rho
        return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


class CosinePath(NoisePath):
    """DDPM's variance-preserving path with the cosine schedule alpha_bar(t) = f(t) / f(0),
    f(t) = cos^2((t + s) / (1 + s) pi / 2) (Nichol & Dhariwal, 2021), in continuous time t in [0, 1].

    It stops short of t = 1, where alpha_bar = 0 and the data estimate from a noise prediction is undefined.
    """

    offset = 0.008
    noise_end, data_end = 0.999, 1e-3

    def _angle(self, t: torch.Tensor) -> torch.Tensor:
        return (t + self.offset) / (1 + self.offset) * (math.pi / 2)

    def coefficients(self, t: torch.Tensor) -> Coefficients:
        a = torch.cos(self._angle(t)) / math.cos(self._angle(torch.tensor(0.0)).item())
        return a, (1.0 - a.square()).clamp_min(0.0).sqrt()

    def derivatives(self, t: torch.Tensor) -> Coefficients:
        a, b = self.coefficients(t)
        da = (
            -torch.sin(self._angle(t))
            * (math.pi / 2 / (1 + self.offset))
            / math.cos(self._angle(torch.tensor(0.0)).item())
        )
        return da, -a * da / b

    def solver_time(self, t: float) -> float:
        """ln sigma, sigma = b / a: near the data b grows like sqrt(t), and the ODE in t is stiff there."""
        a, b = self.coefficients(torch.tensor(t, dtype=torch.float64))
        return math.log(float(b / a))

    def time_of(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma = s.exp()
        start = math.cos(self._angle(torch.tensor(0.0)).item())
        angle = torch.arccos(start / torch.sqrt(1 + sigma.square()))
        d_angle_d_sigma = start * sigma / ((1 + sigma.square()) ** 1.5 * torch.sin(angle))
        scale = 2 * (1 + self.offset) / math.pi  # dt / d angle
        return angle * scale - self.offset, scale * d_angle_d_sigma * sigma

    def sampling_times(self, steps: int) -> torch.Tensor:
        return torch.linspace(self.noise_end, 0.0, steps + 1, dtype=torch.float64)
