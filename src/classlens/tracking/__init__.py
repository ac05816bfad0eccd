"""MLflow tracking: one run per experiment, shared by every stage.

- `store`: which MLflow store (URI resolution, activation, reachability, the experiment id);
- `runs`: the run reference, opening the run for a stage (or this experiment's fork of it),
  reading runs back;
- `log`: logging metrics, artifacts, tables and tags into the open run;
- `naming`: MLflow param and metric names;
- `options`: the `tracking` section of params.yaml.

Logging and loading MLflow *models* is `classlens.serving` (`logged_model`, `loading`), which
builds on this package; nothing here imports serving or the config schema.
"""
