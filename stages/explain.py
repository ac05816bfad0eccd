"""DVC stage `explain`: see dvc.yaml for its inputs and outputs, classlens.pipeline.explain for the work."""

from classlens.cli import run_stage

if __name__ == "__main__":
    run_stage("explain")
