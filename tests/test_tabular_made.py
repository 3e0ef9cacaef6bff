"""The tabular MADE: an exact, normalised, autoregressive density over numbers and categories."""

from __future__ import annotations

import math

import pytest
import torch

from genmodels.models import TabularMADE, TabularMADEConfig


def small_made(**settings) -> TabularMADE:
    torch.manual_seed(0)
    config = {"data_shape": (4,), "categorical_sizes": (2,), "hidden_sizes": (16,), "components": 3, **settings}
    return TabularMADE(TabularMADEConfig(**config)).eval()


def test_log_prob_integrates_to_one_over_numbers_and_categories():
    model = small_made()  # untrained: mixtures of scales near 1, all their mass well inside [-8, 8]
    grid = torch.linspace(-8, 8, 401)
    cell = float(grid[1] - grid[0])
    numbers = torch.cartesian_prod(grid, grid)
    total = 0.0
    for category in range(2):
        rows = torch.cat([numbers, torch.nn.functional.one_hot(torch.full((len(numbers),), category), 2)], dim=1)
        with torch.no_grad():
            total += float(model.log_prob(rows.float()).exp().sum()) * cell**2
    assert total == pytest.approx(1.0, abs=1e-3)


def test_each_column_is_conditioned_on_the_columns_before_it_only():
    model = small_made(data_shape=(6,), categorical_sizes=(3,))
    x = torch.randn(5, 6)
    x[:, 3:] = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1])]
    x.requires_grad_(True)
    per_column = model.feature_log_probs(x)
    assert per_column.shape == (5, 4)  # three numbers, one categorical group
    columns_of = [[0], [1], [2], [3, 4, 5]]
    for variable, own in enumerate(columns_of):
        (gradient,) = torch.autograd.grad(per_column[:, variable].sum(), x, retain_graph=True)
        reaches = gradient.abs().sum(0) > 0
        later = [column for later_columns in columns_of[variable + 1 :] for column in later_columns]
        assert not reaches[later].any(), variable
        assert reaches[own].any(), variable
    assert torch.allclose(per_column.sum(1), model.log_prob(x))


def test_it_learns_a_correlated_pair_and_a_category_that_depends_on_it():
    generator = torch.Generator().manual_seed(0)
    first = torch.randn(4000, generator=generator)
    second = 0.9 * first + math.sqrt(1 - 0.81) * torch.randn(4000, generator=generator)
    category = (first > 0).long()
    rows = torch.stack([first, second], 1)
    rows = torch.cat([rows, torch.nn.functional.one_hot(category, 2).float()], 1)
    train, held_out = rows[:3000], rows[3000:]
    model = small_made(hidden_sizes=(64,)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(600):
        batch = train[torch.randint(len(train), (256,), generator=generator)]
        loss = model.loss({"x": batch})["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        held_out_nll = float(-model.log_prob(held_out).mean())
    # the true density: a bivariate normal (rho 0.9) times a category fixed by the first number's sign
    true_nll = 1 + math.log(2 * math.pi) + 0.5 * math.log(1 - 0.81)
    independent_nll = 1 + math.log(2 * math.pi) + math.log(2)
    assert held_out_nll < true_nll + 0.15 < independent_nll
    samples = model.sample(2000, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (2000, 4) and torch.equal(samples[:, 2:].sum(1), torch.ones(2000))
    assert torch.corrcoef(samples[:, :2].T)[0, 1] > 0.8
    agrees = (samples[:, 0] > 0).long() == samples[:, 2:].argmax(1)
    assert agrees.float().mean() > 0.9
    again = model.sample(2000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(samples, again)


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(ValueError, match=r"components: expected an integer >= 1, got 0"):
        TabularMADEConfig(data_shape=(3,), components=0)
    with pytest.raises(ValueError, match="numeric_features"):
        TabularMADEConfig(data_shape=(3,), categorical_sizes=(5,))
    with pytest.raises(ValueError, match=r"expects x of shape \(batch, 4\)"):
        small_made().log_prob(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="no sampling controls"):
        small_made().sample(2, temperature=0.5)
