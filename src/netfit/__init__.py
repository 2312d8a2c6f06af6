"""netfit: train neural networks end to end, the careful way, and report the result honestly."""

__version__ = "0.1.0"
