"""One module per DVC stage: read the stage's input files, call the pure functions, write the
outputs atomically, then log them to the experiment's MLflow run. Only `train`, `predict` and
`explain` import TensorFlow."""
