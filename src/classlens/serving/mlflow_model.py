"""MLflow's "models from code" entry file for the served image model: MLflow runs this file when
it logs and when it loads the model, and takes the object given to `set_model`. (Code, not a
pickled object, so a model logged today still loads after the class changes shape.)"""

from mlflow.models import set_model

from classlens.serving.pyfunc import ImageClassifier

set_model(ImageClassifier())
