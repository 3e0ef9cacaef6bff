"""Small saved models of each data kind the server handles: untrained, but with tokenizer, preprocessor, detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genmodels.applications.anomaly import Detector
from genmodels.data.tabular import TabularPreprocessor
from genmodels.data.tokenizers import CharTokenizer
from genmodels.models import GAN, GPT, VAE, CharRNN, CharRNNConfig, GPTConfig, TabularMADE, TabularMADEConfig, VAEConfig
from genmodels.models.gan.mlp import GANConfig

TEXT = "to be or not to be, that is the question.\nwhether tis nobler in the mind to suffer\n"
SMILES = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCl", "OCCO"]


def transactions(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """A small table: two numbers and a category, the kind a fraud detector scores."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(50, 10, rows).round(2),
            "hour": rng.integers(0, 24, rows),
            "channel": rng.choice(["web", "shop", "phone"], rows),
        }
    )


def save_serving_runs(root: Path) -> dict[str, Path]:
    """Directories named by data kind: digits (a conditional VAE), gan, shakespeare (GPT), smiles (CharRNN), fraud."""
    torch.manual_seed(0)
    runs = {}
    vae = VAE(VAEConfig(data_shape=(1, 8, 8), hidden_dim=32, latent_dim=4, num_classes=3))
    runs["digits"] = _save(vae, root / "digits", data={"source": "digits"})
    gan = GAN(GANConfig(data_shape=(1, 8, 8), latent_dim=4, generator_hidden_dim=16, discriminator_hidden_dim=16))
    runs["gan"] = _save(gan, root / "gan", data={"source": "digits"})
    tokenizer = CharTokenizer.train([TEXT])
    gpt = GPT(GPTConfig(data_shape=(33,), vocab_size=tokenizer.vocab_size, num_layers=1, num_heads=2, embedding_dim=16))
    gpt.tokenizer = tokenizer
    runs["shakespeare"] = _save(gpt, root / "shakespeare", data={"source": "tinyshakespeare"})
    smiles_tokenizer = CharTokenizer.train(["\n".join(SMILES) + "\n"])
    charrnn = CharRNN(
        CharRNNConfig(data_shape=(33,), vocab_size=smiles_tokenizer.vocab_size, embedding_dim=8, hidden_dim=16,
                      num_layers=1)
    )  # fmt: skip
    charrnn.tokenizer = smiles_tokenizer
    runs["smiles"] = _save(charrnn, root / "smiles", data={"source": "molecules.smi"})
    table = transactions()
    preprocessor = TabularPreprocessor.fit(table)
    made = TabularMADE(TabularMADEConfig(data_shape=(preprocessor.width,), hidden_sizes=(16,), components=2,
                                         **preprocessor.model_settings()))  # fmt: skip
    made.preprocessor = preprocessor
    runs["fraud"] = _save(made, root / "fraud", data={"source": "transactions.csv"})
    Detector(made, false_positive_rate=0.1).fit(preprocessor.transform(table)).save(runs["fraud"])
    return runs


def _save(model, directory: Path, **provenance) -> Path:
    model.eval().save_pretrained(directory, **provenance)
    return directory
