"""The SMILES syntax mask: what it allows after hand-made prefixes, that it refuses no real SMILES, its effect."""

from __future__ import annotations

import pytest
import torch

from genmodels.applications.molecules.datasets import shipped_moses_corpus
from genmodels.applications.molecules.generation import sample_strings
from genmodels.applications.molecules.syntax import SmilesSyntaxMask
from genmodels.data.tokenizers import BPETokenizer, CharTokenizer
from genmodels.models import CharRNN, CharRNNConfig

TOKENIZER = CharTokenizer(sorted(set("\n#%()-0123456789=BCFHNOS[]clnors+@/\\.")))


def allowed_after(prefix: str) -> set[str]:
    """The characters the mask allows after ``prefix``, checking it allowed every character of the prefix."""
    mask = SmilesSyntaxMask(TOKENIZER, 1)
    for character in prefix:
        token = torch.tensor(TOKENIZER.encode(character))
        assert mask.allowed()[0, token[0]], f"{character!r} refused after {prefix!r}"
        mask.update(token)
    allowed = mask.allowed()[0]
    return {TOKENIZER.characters[i - 1] for i in range(1, len(allowed)) if allowed[i]}


@pytest.mark.parametrize(
    ("prefix", "may_end"),
    [("", False), ("C1CC", False), ("C1CC1", True), ("CC(C", False), ("CC(C)", True), ("C=", False),
     ("CC[", False), ("CC[nH", False), ("c1cc[nH]c1", True), ("C%12CC", False), ("C%12CC%12", True),
     ("CC(=O)O\nC1", False), ("CC(=O)O\nC", True)],
)  # fmt: skip
def test_a_line_ends_only_when_nothing_is_open(prefix, may_end):
    assert ("\n" in allowed_after(prefix)) == may_end


def test_branches_brackets_and_ring_labels_follow_the_grammar():
    assert ")" not in allowed_after("CC") and ")" in allowed_after("CC(C")
    assert ")" not in allowed_after("CC(") and ")" not in allowed_after("CC(=")  # no empty branch or dangling bond
    assert "]" not in allowed_after("C[") and "]" in allowed_after("C[N+")
    assert {"1", "%"} <= allowed_after("C=") and "1" not in allowed_after("C(")
    assert allowed_after("C%") == set("0123456789") == allowed_after("C%1")
    assert "(" not in allowed_after("") and "=" not in allowed_after("")


def test_real_smiles_are_never_refused():
    """1,000 MOSES training molecules side by side, each followed by its line break, then carbons."""
    molecules = shipped_moses_corpus().split()[:1000]
    width = max(map(len, molecules)) + 1
    rows = torch.tensor(TOKENIZER.encode("".join((s + "\n").ljust(width, "C") for s in molecules))).view(-1, width)
    mask = SmilesSyntaxMask(TOKENIZER, len(molecules))
    for step in range(width):
        refused = ~mask.allowed().gather(1, rows[:, step : step + 1]).squeeze(1)
        assert not refused.any(), molecules[int(refused.nonzero()[0])]
        mask.update(rows[:, step])


def test_an_untrained_model_under_the_mask_closes_what_it_opens():
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(data_shape=(33,), vocab_size=TOKENIZER.vocab_size, hidden_dim=32, num_layers=1))
    model.tokenizer = TOKENIZER

    def balanced(line: str) -> bool:
        outside = "".join(part.split("]")[-1] for part in line.split("["))
        digits = [c for c in outside if c.isdigit()]
        return line.count("(") == line.count(")") and all(digits.count(d) % 2 == 0 for d in set(digits))

    free = [line for line in sample_strings(model, 300, max_length=80, seed=1) if line]
    masked = [line for line in sample_strings(model, 300, max_length=80, seed=1, syntax_mask=True) if line]
    assert len(masked) >= 15 and all(balanced(line) and line[-1] not in "(=#-[" for line in masked)
    assert sum(balanced(line) for line in free) < 0.8 * len(free)  # random characters rarely balance


def test_the_mask_needs_a_character_vocabulary():
    with pytest.raises(ValueError, match="character vocabulary"):
        SmilesSyntaxMask(BPETokenizer.train(["CCO\nc1ccccc1\n"] * 10, vocab_size=300), 4)
