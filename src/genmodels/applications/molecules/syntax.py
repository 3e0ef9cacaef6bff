"""A SMILES syntax mask for sampling: no molecule ends with a branch, a ring bond or a bracket atom open.

A character model writes SMILES one character at a time and may end a line with ``C1CC(C`` (an
unclosed ring bond and branch), which RDKit rejects. :class:`SmilesSyntaxMask` follows the
grammar's counters (open branches, open ring-bond labels, bracket atoms, ``%nn`` labels) for every
row of a batch at once, and each step allows only the characters that keep the line parseable by
those rules: no end of line while anything is open, no ``)`` without its ``(``, no empty branch or
bracket, no bond or ring label where no atom precedes it. It does not know chemistry (valences,
aromaticity), so molecules can still be invalid for those reasons.

Sampling with it draws from the model's distribution renormalised over the allowed characters,
not from the model itself; the published MOSES rows sample without one.
"""

from __future__ import annotations

import torch

from genmodels.data.tokenizers import CharTokenizer, Tokenizer
from genmodels.errors import ConfigError

# what a character does to the grammar's state
END, OPEN, CLOSE, DIGIT, PERCENT, BOND, DOT, LEFT_BRACKET, RIGHT_BRACKET, ATOM = range(10)
BOND_CHARACTERS = "-=#$:/\\"
DIGITS = "0123456789"
# what the previous character was, as far as the next one cares
START, AFTER_ATOM, AFTER_RING, AFTER_CLOSE, AFTER_OPEN, AFTER_BOND, AFTER_DOT, AFTER_LEFT_BRACKET, IN_BRACKET = range(9)
RING_LABELS = 100


def character_class(character: str) -> int:
    """The grammar class of one SMILES character (letters, charges, ``@`` and ``*`` count as atom parts)."""
    special = {"\n": END, "(": OPEN, ")": CLOSE, "%": PERCENT, ".": DOT, "[": LEFT_BRACKET, "]": RIGHT_BRACKET}
    if character in special:
        return special[character]
    if character in DIGITS:
        return DIGIT
    return BOND if character in BOND_CHARACTERS else ATOM


class SmilesSyntaxMask:
    """Which next characters keep each row's SMILES parseable; ``allowed()`` then ``update(tokens)`` per step.

    Works with character vocabularies (one character per token), where the line break ends a molecule.
    """

    def __init__(self, tokenizer: Tokenizer, batch_size: int, device: torch.device | str = "cpu") -> None:
        if not isinstance(tokenizer, CharTokenizer):
            raise ConfigError(
                f"the SMILES syntax mask needs a character vocabulary, got a {tokenizer.kind!r} tokenizer"
            )
        characters = ["\ufffd", *tokenizer.characters]  # id 0: the unknown character, never generated
        self.classes = torch.tensor([character_class(c) for c in characters], device=device)
        self.digits = torch.tensor([DIGITS.find(c) if c in DIGITS else 0 for c in characters], device=device)
        self.state_after = torch.tensor(  # outside brackets, indexed by character class
            [START, AFTER_OPEN, AFTER_CLOSE, AFTER_RING, AFTER_RING, AFTER_BOND, AFTER_DOT, AFTER_LEFT_BRACKET,
             AFTER_ATOM, AFTER_ATOM],
            device=device,
        )  # fmt: skip
        zeros = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.previous = zeros.clone()  # START
        self.branches = zeros.clone()
        self.percent = zeros.clone()  # 0: no %, 1: after %, 2: after % and one digit
        self.first_digit = zeros.clone()
        self.in_bracket = torch.zeros(batch_size, dtype=torch.bool, device=device)
        self.open_rings = torch.zeros(batch_size, RING_LABELS, dtype=torch.bool, device=device)

    def allowed(self) -> torch.Tensor:
        """``(batch, vocab)``: True where a character may come next."""
        previous = self.previous
        free = ~self.in_bracket & (self.percent == 0)
        after_atom = (previous == AFTER_ATOM) | (previous == AFTER_RING) | (previous == AFTER_CLOSE)
        ring_may_follow = (previous == AFTER_ATOM) | (previous == AFTER_RING) | (previous == AFTER_BOND)
        nothing_open = (self.branches == 0) & ~self.open_rings.any(dim=1)
        by_class = torch.stack(
            [
                free & after_atom & nothing_open,  # END
                free & after_atom,  # OPEN
                free & after_atom & (self.branches > 0),  # CLOSE
                self.in_bracket | (self.percent > 0) | (free & ring_may_follow),  # DIGIT
                free & ring_may_follow,  # PERCENT
                self.in_bracket | (free & (after_atom | (previous == AFTER_OPEN))),  # BOND (a charge in brackets)
                free & after_atom,  # DOT
                free,  # LEFT_BRACKET
                self.in_bracket & (previous != AFTER_LEFT_BRACKET),  # RIGHT_BRACKET
                self.in_bracket | free,  # ATOM
            ],
            dim=1,
        )
        return by_class[:, self.classes]

    def update(self, tokens: torch.Tensor) -> None:
        """Advance every row's state by its chosen token ``(batch,)``.

        A line break is allowed only when nothing is open, so the next molecule starts from a clean state.
        """
        kind, digit, percent = self.classes[tokens], self.digits[tokens], self.percent
        inside = self.in_bracket
        outside = ~inside
        ring_digit = outside & (kind == DIGIT)
        # a ring-bond label is one digit, or % and two digits: toggle it once complete
        ends_label = ring_digit & ((percent == 0) | (percent == 2))
        label = torch.where(percent == 2, self.first_digit * 10 + digit, digit)
        rows = torch.nonzero(ends_label).squeeze(1)
        self.open_rings[rows, label[rows]] ^= True
        self.first_digit = torch.where(ring_digit & (percent == 1), digit, self.first_digit)
        self.percent = torch.where(ring_digit & (percent > 0), (percent + 1) % 3, percent)
        self.percent = torch.where(outside & (kind == PERCENT), 1, self.percent)
        self.branches = self.branches + (outside & (kind == OPEN)).long() - (outside & (kind == CLOSE)).long()
        previous = torch.where(inside, IN_BRACKET, self.state_after[kind])
        self.previous = torch.where(inside & (kind == RIGHT_BRACKET), AFTER_ATOM, previous)
        self.in_bracket = (inside & (kind != RIGHT_BRACKET)) | (outside & (kind == LEFT_BRACKET))
