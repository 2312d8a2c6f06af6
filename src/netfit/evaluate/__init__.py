"""Evaluate: test metrics with bootstrap confidence intervals (metrics.py), dummy and linear
baselines on the same split (baselines.py), and prediction with a saved model (predict.py)."""
