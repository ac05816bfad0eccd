"""Data in: sources, the stratified split, and the prepared-dataset files later stages read."""
