"""Fine-tuning: frozen parts stay bit-identical, LoRA adapters save alone and reload, bases adapt or are refused."""

import json

import pytest
import torch
from test_autoregressive_images import dependency_matrix
from typer.testing import CliRunner

from genmodels.cli.main import app
from genmodels.data import DataSpec, load_data
from genmodels.data.spec import DataSplits, ImageSplit
from genmodels.data.tokenizers import CharTokenizer
from genmodels.errors import CheckpointError
from genmodels.models import build_model
from genmodels.models.base import GenerativeModel
from genmodels.nn.lora import LoRASettings, apply_lora, merge_lora
from genmodels.training import Trainer, TrainerConfig
from genmodels.training.freezing import first_blocks, part_parameters
from genmodels.transfer.finetuning import adapt_to_data

FAST = {"batch_size": 16, "val_every": 1000, "checkpoint_every": 1000, "progress_bar": False, "tensorboard": False}


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def fit(model, data, tmp_path, **trainer):
    return Trainer(TrainerConfig(**{**FAST, **trainer}), tmp_path).fit(model, {"x": data})


def image_splits(images: torch.Tensor, labels: torch.Tensor | None = None) -> DataSplits:
    split = ImageSplit(images, labels)
    classes = int(labels.max()) + 1 if labels is not None else None
    info = {"source": "test", "num_classes": classes, "data_shape": list(images.shape[1:])}
    return DataSplits(split, split, split, info=info)


def test_frozen_parts_are_bit_identical_after_training_and_the_rest_moves(binary_images, tmp_path):
    torch.manual_seed(0)
    vae = build_model("vae", data_shape=(1, 8, 8), hidden_dim=32, latent_dim=2)
    before = snapshot(vae)
    fit(vae, binary_images, tmp_path, max_steps=20, freeze=("encoder",))
    encoder = set(part_parameters(vae, "encoder"))
    assert encoder == {n for n in before if n.startswith(("encoder.", "z_mean.", "z_log_var."))}
    for name, tensor in vae.state_dict().items():
        if name in encoder:
            assert torch.equal(tensor, before[name]), name
        else:
            assert not torch.equal(tensor, before[name]), name


def test_gradual_unfreezing_holds_a_part_until_its_step(binary_images, tmp_path):
    torch.manual_seed(0)
    vae = build_model("vae", data_shape=(1, 8, 8), hidden_dim=32, latent_dim=2)
    before = snapshot(vae)
    config = {"gradual_unfreeze": ("decoder",), "unfreeze_every": 5, "unfrozen_lr_ratio": 0.1}
    fit(vae, binary_images, tmp_path / "a", max_steps=5, **config)
    decoder = [name for name in before if name.startswith("decoder.")]
    assert all(torch.equal(vae.state_dict()[name], before[name]) for name in decoder)
    assert not torch.equal(vae.state_dict()["z_mean.weight"], before["z_mean.weight"])
    fit(vae, binary_images, tmp_path / "b", max_steps=8, **config)
    assert not all(torch.equal(vae.state_dict()[name], before[name]) for name in decoder)


def test_unknown_parts_and_freezing_everything_are_refused(binary_images, tmp_path):
    vae = build_model("vae", data_shape=(1, 8, 8), hidden_dim=32, latent_dim=2)
    with pytest.raises(ValueError, match="no part 'wings'.*encoder"):
        fit(vae, binary_images, tmp_path / "a", max_steps=2, freeze=("wings",))
    with pytest.raises(ValueError, match="nothing to train"):
        fit(vae, binary_images, tmp_path / "b", max_steps=2, freeze=("encoder", "decoder"))
    gpt = build_model("gpt", data_shape=(9,), vocab_size=5, num_layers=3, num_heads=2, embedding_dim=16)
    assert first_blocks(gpt, 2) == ["blocks.0", "blocks.1"]
    with pytest.raises(ValueError, match="3 blocks"):
        first_blocks(gpt, 4)


def tiny_gpt() -> GenerativeModel:
    torch.manual_seed(0)
    model = build_model("gpt", data_shape=(9,), vocab_size=6, num_layers=2, num_heads=2, embedding_dim=16)
    model.tokenizer = CharTokenizer("abcde")
    return model


def test_lora_starts_at_the_base_trains_only_adapters_and_saves_only_them(tmp_path):
    base = tiny_gpt()
    base.save_pretrained(tmp_path / "base")
    base_hash = json.loads((tmp_path / "base" / "config.json").read_text())["weights_sha256"]
    tokens = torch.randint(1, 6, (32, 9), generator=torch.Generator().manual_seed(1))
    model = GenerativeModel.from_pretrained(tmp_path / "base")
    apply_lora(model, LoRASettings(rank=2, base_model={"path": str(tmp_path / "base"), "weights_sha256": base_hash}))
    assert torch.equal(model.log_prob(tokens), base.log_prob(tokens))
    frozen = {name: t.clone() for name, t in model.state_dict().items() if "lora_" not in name}
    fit(model, tokens, tmp_path / "run", max_steps=10, learning_rate=1e-2)
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in frozen.items())
    tuned = model.log_prob(tokens)
    assert not torch.allclose(tuned, base.log_prob(tokens))

    model.save_pretrained(tmp_path / "tuned")
    assert not (tmp_path / "tuned" / "model.safetensors").exists()
    adapter_bytes = (tmp_path / "tuned" / "adapter.safetensors").stat().st_size
    assert adapter_bytes < (tmp_path / "base" / "model.safetensors").stat().st_size / 4
    reloaded = GenerativeModel.from_pretrained(tmp_path / "tuned")
    assert torch.equal(reloaded.log_prob(tokens), tuned)
    assert torch.allclose(merge_lora(reloaded).log_prob(tokens), tuned, atol=1e-5)

    build_model("gpt", **base.config.to_dict()).save_pretrained(tmp_path / "base")  # the base changes
    with pytest.raises(CheckpointError, match="no longer the ones it was tuned from"):
        GenerativeModel.from_pretrained(tmp_path / "tuned")


def test_lora_on_made_keeps_the_likelihood_autoregressive():
    torch.manual_seed(0)
    made = build_model("made", data_shape=(1, 4, 4), hidden_sizes=[32])
    apply_lora(made, LoRASettings(rank=2))
    for module in made.modules():
        if hasattr(module, "parametrizations"):
            torch.nn.init.normal_(module.parametrizations.weight[0].lora_b)  # a non-zero update
    depends = dependency_matrix(lambda x: made.logits(x)[0], 16)
    position = made.orderings[0]
    earlier = position[None, :] < position[:, None]
    assert not depends[~earlier].any() and depends.any()


def test_a_grown_vocabulary_keeps_old_rows_and_starts_new_ones_at_the_mean(tmp_path):
    base = tiny_gpt()
    text = tmp_path / "new.txt"
    text.write_text("abcxyz\n" * 200, encoding="utf-8")
    data = load_data(DataSpec(str(text), context_length=8), base_tokenizer=base.tokenizer)
    assert data.tokenizer.characters[:5] == list("abcde")
    tuned = adapt_to_data(base, data)
    old, new = base.token_embedding.weight, tuned.token_embedding.weight
    assert new.shape[0] == data.tokenizer.vocab_size > old.shape[0]
    assert torch.equal(new[: old.shape[0]], old)
    assert torch.allclose(new[old.shape[0] :], old.mean(0).expand_as(new[old.shape[0] :]))
    assert tuned.head.weight is tuned.token_embedding.weight


def test_a_new_class_count_reinitialises_only_the_conditioning_layers(binary_images):
    torch.manual_seed(0)
    base = build_model("made", data_shape=(1, 8, 8), hidden_sizes=[32], num_classes=3)
    data = image_splits(binary_images, torch.arange(64) % 5)
    tuned = adapt_to_data(base, data)
    assert tuned.config.num_classes == 5
    for name, tensor in tuned.state_dict().items():
        if not name.startswith("label_layers"):
            assert torch.equal(tensor, base.state_dict()[name]), name
    assert tuned.label_layers[0].weight.shape[1] == 5


def test_an_incompatible_base_is_refused_saying_what_differs():
    base = build_model("vae", data_shape=(1, 8, 8), hidden_dim=32, latent_dim=2)
    with pytest.raises(CheckpointError, match=r"data_shape \(1, 8, 8\) -> \(1, 6, 6\).*encoder"):
        adapt_to_data(base, image_splits(torch.zeros(4, 1, 6, 6)))


def test_classes_and_train_fraction_select_nested_subsets():
    full = load_data(DataSpec("digits"))
    upper = load_data(DataSpec("digits", classes=(5, 6, 7, 8, 9)))
    few = load_data(DataSpec("digits", classes=(5, 6, 7, 8, 9), train_fraction=0.1))
    assert set(upper.train.labels.tolist()) == {5, 6, 7, 8, 9}
    assert torch.equal(upper.test.images, full.test.images[full.test.labels >= 5])
    assert len(few.train) == round(0.1 * len(upper.train))
    assert torch.equal(few.train.images, upper.train.images[: len(few.train)])


def test_finetune_command_records_lineage_and_info_shows_it(tmp_path):
    runner = CliRunner()
    tiny = ["--max-steps", "20", "--batch-size", "32", "--val-every", "10", "--no-progress"]

    def invoke(*args):
        result = runner.invoke(app, [str(arg) for arg in args])
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
        return result

    invoke("train", "vae", "--data", "digits", "-o", tmp_path / "base", "--set", "data.classes=[0,1,2,3,4]", *tiny)
    invoke(
        "finetune", tmp_path / "base", "--data", "digits", "-o", tmp_path / "tuned", "--freeze", "encoder",
        "--set", "data.classes=[5,6,7,8,9]", "--set", "data.train_fraction=0.1", *tiny,
    )  # fmt: skip
    saved = json.loads((tmp_path / "tuned" / "model" / "config.json").read_text())
    base_config = json.loads((tmp_path / "base" / "model" / "config.json").read_text())
    assert saved["finetuned_from"]["weights_sha256"] == base_config["weights_sha256"]
    assert saved["frozen"] == ["encoder"] and saved["data"]["spec"]["train_fraction"] == 0.1
    shown = invoke("info", tmp_path / "tuned", "--parts").output
    assert "base model" in shown and "encoder" in shown and "train_fraction=0.1" in shown
    result = runner.invoke(
        app, ["finetune", str(tmp_path / "base"), "--data", "shakespeare", "-o", str(tmp_path / "x")]
    )
    assert result.exit_code != 0
