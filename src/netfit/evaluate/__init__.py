"""Evaluate: test metrics (metrics.py) with seeded bootstrap confidence intervals (bootstrap.py), dummy
and linear baselines on the same split (baselines.py), and prediction with a saved model (predict.py)."""
