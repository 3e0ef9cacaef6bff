"""Samplers and the likelihood ODE over a :class:`~genmodels.models.diffusion.paths.NoisePath`.

A ``Predictor`` maps x and a time per row to the model's estimates ``(data, noise)``. Samplers:

- ``euler`` (also named ``ddim``): x_next = a(t_next) D + b(t_next) N, exact while the estimates do
  not change over the step. It is Euler's method on a flow-matching path and on EDM's path, and
  DDIM's deterministic update on the cosine path (Song et al., 2021). ``steps`` evaluations.
- ``heun``: Heun's second-order method on dx/dt, its correction skipped on the last step
  (Karras et al., 2022, Algorithm 1): ``2 steps - 1`` evaluations.
- ``adaptive``: Dormand-Prince with step-size control (torchdiffeq; Chen et al., 2018), as many
  evaluations as the tolerance asks for.

``ode_log_prob`` integrates the instantaneous change of variables (Chen et al., 2018) from the data
to the noise end: exact divergence by one backward pass per dimension, or Hutchinson's estimator
with one Rademacher probe per row (Grathwohl et al., 2019).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import torch

from genmodels.extras import require_extra
from genmodels.models.diffusion.paths import NoisePath

Predictor = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SAMPLERS = ("euler", "ddim", "heun", "adaptive")


def network_evaluations(sampler: str, steps: int) -> int:
    """Evaluations a fixed-step sampler makes for ``steps`` steps (guidance's doubled batch counts once)."""
    return 2 * steps - 1 if sampler == "heun" else steps


def _rows(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), float(t), device=x.device, dtype=x.dtype)


def _broadcast(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return value.view(-1, *[1] * (x.dim() - 1))


def velocity_of(path: NoisePath, predict: Predictor) -> Velocity:
    """dx/dt = a'(t) D + b'(t) N, the probability-flow ODE of the path."""

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return velocity_of_estimates(path, *predict(x, t), t)

    return velocity


def sample_fixed_steps(path: NoisePath, predict: Predictor, x: torch.Tensor, steps: int, sampler: str) -> torch.Tensor:
    """Integrate from noise ``x`` at ``path.noise_end`` to data in ``steps`` steps of ``sampler``."""
    times = path.sampling_times(steps).tolist()
    velocity = velocity_of(path, predict)
    for t, t_next in zip(times[:-1], times[1:], strict=True):
        denoised, noise = predict(x, _rows(t, x))
        a_next, b_next = path.coefficients(_rows(t_next, x))
        if sampler == "heun" and float(b_next[0]) > 0:
            slope = velocity_of_estimates(path, denoised, noise, _rows(t, x))
            proposal = x + (t_next - t) * slope
            x = x + (t_next - t) * 0.5 * (slope + velocity(proposal, _rows(t_next, x)))
        else:
            x = _broadcast(a_next, x) * denoised + _broadcast(b_next, x) * noise
    return x


def velocity_of_estimates(
    path: NoisePath, denoised: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    da, db = path.derivatives(t)
    return _broadcast(da, denoised) * denoised + _broadcast(db, noise) * noise


def _odeint() -> Any:
    require_extra("diffusion", "the adaptive ODE solver")
    return importlib.import_module("torchdiffeq").odeint


def sample_adaptive(path: NoisePath, predict: Predictor, x: torch.Tensor, tolerance: float) -> tuple[torch.Tensor, int]:
    """Dormand-Prince from ``noise_end`` to ``data_end``, then the data estimate there; returns ``(x, evaluations)``."""
    evaluations = 0
    velocity = velocity_of(path, predict)

    def drift(s: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        t, dt_ds = path.time_of(s)
        return velocity(state, _rows(float(t), state)) * float(dt_ds)

    span = torch.tensor([path.solver_time(path.noise_end), path.solver_time(path.data_end)], dtype=torch.float64)
    x = _odeint()(drift, x, span, rtol=tolerance, atol=tolerance, method="dopri5")[-1]
    denoised, _ = predict(x, _rows(path.data_end, x))
    return denoised, evaluations + 1


def divergence(
    velocity: Velocity, x: torch.Tensor, t: torch.Tensor, probe: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(v(x, t), div v)``: exact (one backward pass per dimension) without a probe, else e^T (dv/dx) e."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        value = velocity(x, t)
        if probe is not None:
            (vector_jacobian,) = torch.autograd.grad(value, x, probe)
            return value.detach(), (vector_jacobian * probe).flatten(1).sum(1)
        flat = value.flatten(1)
        trace = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        for dimension in range(flat.shape[1]):
            (gradient,) = torch.autograd.grad(flat[:, dimension].sum(), x, retain_graph=True)
            trace = trace + gradient.flatten(1)[:, dimension]
        return value.detach(), trace


def ode_log_prob(
    path: NoisePath,
    velocity: Velocity,
    x: torch.Tensor,
    noise_scale: float,
    exact_divergence: bool,
    tolerance: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """log p(x) at ``path.data_end`` = log N(x(noise_end); 0, noise_scale^2 I) + the integral of div v, ``(batch,)``."""
    probe = None
    if not exact_divergence:
        probe = torch.randint(0, 2, x.shape, generator=generator, device=x.device).to(x.dtype) * 2 - 1

    def drift(s: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        t, dt_ds = path.time_of(s)
        value, trace = divergence(velocity, state[0], _rows(float(t), state[0]), probe)
        return value * float(dt_ds), trace * float(dt_ds)

    span = torch.tensor([path.solver_time(path.data_end), path.solver_time(path.noise_end)], dtype=torch.float64)
    start = (x, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
    final, integral = (part[-1] for part in _odeint()(drift, start, span, rtol=tolerance, atol=tolerance))
    dimensions = final[0].numel()
    prior = -0.5 * final.flatten(1).square().sum(1) / noise_scale**2 - dimensions * (
        math.log(noise_scale) + 0.5 * math.log(2 * math.pi)
    )
    return prior + integral
