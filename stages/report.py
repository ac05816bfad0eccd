"""DVC stage `report`: see dvc.yaml for its inputs and outputs, classlens.pipeline.report for the work."""

from classlens.cli import run_stage

if __name__ == "__main__":
    run_stage("report")
