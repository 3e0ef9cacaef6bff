"""Held-out evaluation through the model interface only."""

from genmodels.evaluation.likelihood import evaluate_likelihood, evaluate_losses

__all__ = ["evaluate_likelihood", "evaluate_losses"]
