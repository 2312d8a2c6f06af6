"""Training: the loop, optimizers and schedules, losses, stopping criteria, checkpoints."""
