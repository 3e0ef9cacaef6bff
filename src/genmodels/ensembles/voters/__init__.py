"""Voters an ensemble can consult besides its members: a fitted critic, the realism score, and vote strata."""
