"""Comparison runs for UPT: the golden config, the inverse losses, ablations and peers."""
