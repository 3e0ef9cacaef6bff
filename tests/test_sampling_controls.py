"""What every built-in family declares about itself: the sampling controls it takes (and refuses), and
whether its score is its negative log-likelihood in nats."""

from __future__ import annotations

import pytest
import torch

from genmodels.models import MODEL_REGISTRY, build_model

IMAGE = (1, 4, 4)
TINY_SETTINGS = {
    "vae": {"data_shape": IMAGE, "hidden_dim": 8, "latent_dim": 2, "importance_samples": 4},
    "conv-vae": {"data_shape": IMAGE, "hidden_dim": 8, "latent_dim": 2, "channels": (4,), "importance_samples": 4},
    "tabular-vae": {"data_shape": (4,), "categorical_sizes": (2,), "hidden_dim": 8, "importance_samples": 4},
    "gan": {"data_shape": IMAGE, "latent_dim": 4, "generator_hidden_dim": 8, "discriminator_hidden_dim": 8},
    "dcgan": {"data_shape": IMAGE, "latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4},
    "wgan-gp": {"data_shape": IMAGE, "latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4},
    "made": {"data_shape": IMAGE, "hidden_sizes": (16,)},
    "pixelcnn": {"data_shape": IMAGE, "channels": 4, "num_layers": 1, "output_channels": 8},
    "tabular-made": {"data_shape": (4,), "categorical_sizes": (2,), "hidden_sizes": (16,), "components": 2},
    "flow": {"data_shape": (4,), "transforms": 1, "hidden_features": (8,)},
    "flow-matching": {"data_shape": (1, 2, 2), "widths": (8,), "steps": 2, "ode_tolerance": 1e-2},
    "diffusion": {"data_shape": (1, 2, 2), "widths": (8,), "steps": 2, "ode_tolerance": 1e-2},
    "tabular-flow": {"data_shape": (4,), "categorical_sizes": (2,), "transforms": 1, "hidden_features": (8,)},
    "image-flow": {"data_shape": IMAGE, "levels": 2, "blocks": 1, "hidden_channels": 4},
    "gpt": {"data_shape": (9,), "vocab_size": 7, "num_layers": 1, "num_heads": 2, "embedding_dim": 8},
    "charrnn": {"data_shape": (9,), "vocab_size": 7, "embedding_dim": 8, "hidden_dim": 8, "num_layers": 1},
    "smiles-vae": {
        "data_shape": (9,),
        "vocab_size": 7,
        "embedding_dim": 8,
        "encoder_dim": 8,
        "decoder_dim": 8,
        "decoder_layers": 1,
        "latent_dim": 2,
        "importance_samples": 4,
    },
}
"""Every registered family but the ensemble (built from saved members, tested in test_ensemble.py)."""

CONDITIONAL = {"num_classes": 3}
CONTROLS_IN_USE = {
    "vae": (CONDITIONAL, {"labels": 1}),
    "conv-vae": (CONDITIONAL, {"labels": 1}),
    "tabular-vae": (CONDITIONAL, {"labels": 1}),
    "gan": ({**CONDITIONAL, "ema_decay": 0.9}, {"labels": 1, "truncation": 0.5, "use_ema": True}),
    "dcgan": (CONDITIONAL, {"labels": 1, "truncation": 0.5, "use_ema": False}),
    "wgan-gp": (CONDITIONAL, {"labels": 1, "truncation": 0.5, "use_ema": True}),
    "made": (CONDITIONAL, {"labels": 1}),
    "pixelcnn": (CONDITIONAL, {"labels": 1}),
    "tabular-made": ({}, {}),
    "flow": ({}, {}),
    "flow-matching": (CONDITIONAL, {"labels": 1, "guidance": 2.0, "steps": 2, "sampler": "heun", "use_ema": False}),
    "diffusion": (CONDITIONAL, {"labels": 1, "guidance": 0.0, "steps": 1, "sampler": "ddim", "use_ema": True}),
    "tabular-flow": ({}, {}),
    "image-flow": ({}, {"temperature": 0.5}),
    "gpt": ({}, {"temperature": 0.5, "top_k": 3, "top_p": 0.9, "use_cache": False}),
    "charrnn": ({}, {"temperature": 0.5, "top_k": 3, "top_p": 0.9, "use_cache": False}),
    "smiles-vae": ({}, {"temperature": 0.0}),
}
"""Settings that make every control meaningful, and a value for each control the family takes."""


def tiny(name: str, **settings) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, **{**TINY_SETTINGS[name], **settings})


def test_every_family_is_covered():
    families = {name for name in MODEL_REGISTRY if not name.startswith("test-") and name != "ensemble"}
    assert families == set(TINY_SETTINGS) == set(CONTROLS_IN_USE)


@pytest.mark.parametrize("name", sorted(TINY_SETTINGS))
def test_unknown_controls_are_refused_with_the_accepted_ones(name):
    model = tiny(name)
    with pytest.raises(ValueError, match="bogus") as refused:
        model.sample(2, bogus=1)
    message = str(refused.value)
    assert f"{type(model).__name__}.sample does not take bogus" in message
    assert all(control in message for control in model.sampling_controls)
    if not model.sampling_controls:
        assert "no sampling controls" in message


@pytest.mark.parametrize("name", sorted(TINY_SETTINGS))
def test_every_declared_control_works(name):
    settings, controls = CONTROLS_IN_USE[name]
    model = tiny(name, **settings)
    assert set(controls) == set(model.sampling_controls)
    samples = model.sample(2, generator=torch.Generator().manual_seed(0), **controls)
    assert samples.shape == (2, *model.config.data_shape)


def rows_of(model: torch.nn.Module) -> torch.Tensor:
    """Two valid rows for the model: binary images, or encoded table rows (numbers, then one one-hot group)."""
    generator = torch.Generator().manual_seed(1)
    if len(model.config.data_shape) == 3:
        return torch.bernoulli(torch.full((2, *model.config.data_shape), 0.5), generator=generator)
    if not hasattr(model.config, "numeric_features"):  # a flow over plain vectors
        return torch.randn(2, *model.config.data_shape, generator=generator)
    numbers = torch.randn(2, model.config.numeric_features, generator=generator)
    return torch.cat([numbers, torch.eye(2)], dim=1)


NLL_SCORED = sorted(name for name in TINY_SETTINGS if MODEL_REGISTRY[name].score_is_nll)


def test_only_likelihood_models_of_whole_rows_claim_an_nll_score():
    assert NLL_SCORED == [
        *("conv-vae", "diffusion", "flow", "flow-matching", "image-flow", "made", "pixelcnn"),
        *("tabular-flow", "tabular-made", "tabular-vae", "vae"),
    ]


@pytest.mark.parametrize("name", NLL_SCORED)
def test_an_nll_score_is_the_negative_log_prob(name):
    model = tiny(name).eval()
    x = rows_of(model)
    with torch.no_grad():
        torch.manual_seed(2)
        score = model.score(x)
        torch.manual_seed(2)
        log_prob = model.log_prob(x)
    torch.testing.assert_close(score, -log_prob)


@pytest.mark.parametrize("name", sorted(TINY_SETTINGS))
def test_input_complexity_is_offered_only_for_nll_scores_of_images(name):
    model = tiny(name)
    offered = "input_complexity" in model.anomaly_scores()
    assert offered == (model.score_is_nll and len(model.config.data_shape) == 3)
