"""DVC stage `check`: see dvc.yaml for its inputs and outputs, classlens.pipeline.check for the work."""

from classlens.cli import run_stage

if __name__ == "__main__":
    run_stage("check")
