"""Tuning: an Optuna search over config paths (search.py) and the lr / batch-size finders (finders.py)."""
