"""Attribution maps: pure functions from a model and a batch to float maps (no file I/O)."""
