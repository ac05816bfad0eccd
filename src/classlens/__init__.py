"""classlens: reproducible image-classification experiments — a DVC pipeline of small stages,
one MLflow run per experiment, and the analysis that shows where and why a classifier fails."""

__version__ = "0.1.0"
