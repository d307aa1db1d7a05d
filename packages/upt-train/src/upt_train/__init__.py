"""Configs, the training loop, evaluation and the `upt-train` command."""
