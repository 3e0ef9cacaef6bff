"""Normalizing flows: a density that integrates to one, the change of variables by hand, saving and sampling."""

from __future__ import annotations

import math

import pytest
import torch

import genmodels
from genmodels.models.flow import Flow, FlowConfig


def trained_flow(transform: str = "nsf", steps: int = 60) -> Flow:
    """A small flow fitted briefly to a ring, so its transforms are far from the identity."""
    torch.manual_seed(0)
    model = Flow(FlowConfig(data_shape=(2,), transform=transform, transforms=2, hidden_features=(16, 16)))
    angle = torch.rand(512) * 2 * math.pi
    ring = torch.stack([angle.cos(), angle.sin()], 1) * 2 + 0.1 * torch.randn(512, 2) + torch.tensor([3.0, -1.0])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = model.loss({"x": ring})["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("transform", ["nsf", "maf"])
def test_the_density_integrates_to_one_on_a_grid(transform):
    model = trained_flow(transform)
    axis = torch.linspace(-6, 12, 361)  # the ring sits around (3, -1) with radius 2
    step = (axis[1] - axis[0]).item()
    grid = torch.stack(torch.meshgrid(axis, axis - 4, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        mass = model.log_prob(grid).exp().sum().item() * step**2
    assert mass == pytest.approx(1.0, abs=0.02)


def test_log_prob_is_the_change_of_variables_of_a_hand_made_affine_flow():
    model = Flow(FlowConfig(data_shape=(2,), transform="maf", transforms=1, hidden_features=(8,)))
    with torch.no_grad():
        for parameter in model.flow.parameters():
            parameter.zero_()  # each autoregressive step becomes the identity
        model.shift.copy_(torch.tensor([1.0, -2.0]))
        model.log_scale.copy_(torch.tensor([math.log(0.5), math.log(3.0)]))
    x = torch.tensor([[0.0, 0.0], [1.0, -2.0], [2.5, 4.0]])
    # x = shift + scale * z with z ~ N(0, I): log p(x) = log N(z) - sum(log scale)
    expected = torch.distributions.Normal(torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])).log_prob(x).sum(1)
    assert torch.allclose(model.log_prob(x), expected, atol=1e-5)


def test_samples_are_seeded_and_a_saved_flow_loads_the_same(tmp_path):
    model = trained_flow(steps=20)
    first = model.sample(64, torch.Generator().manual_seed(3))
    assert first.shape == (64, 2) and torch.equal(first, model.sample(64, torch.Generator().manual_seed(3)))
    model.save_pretrained(tmp_path / "flow")
    loaded = genmodels.load(tmp_path / "flow")
    assert isinstance(loaded, Flow) and bool(loaded.normalization_fitted)
    assert torch.equal(loaded.sample(64, torch.Generator().manual_seed(3)), first)
    assert torch.allclose(loaded.log_prob(first), model.log_prob(first))


def test_bad_flow_settings_name_the_option():
    with pytest.raises(ValueError, match="transform must be one of"):
        FlowConfig(transform="glow")
    with pytest.raises(ValueError, match=r"vectors of shape \(features,\)"):
        FlowConfig(data_shape=(1, 28, 28))
