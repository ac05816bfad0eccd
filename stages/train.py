"""DVC stage `train`: see dvc.yaml for its inputs and outputs, classlens.pipeline.train for the work."""

from classlens.cli import run_stage

if __name__ == "__main__":
    run_stage("train")
