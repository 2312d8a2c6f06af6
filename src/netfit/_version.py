"""The package version, in a module of its own: the run folder records it without importing the API."""

__version__ = "0.1.0"
