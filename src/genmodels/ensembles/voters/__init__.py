"""The vote's voters: the members themselves, a fitted critic, the realism score; and the vote's strata."""
