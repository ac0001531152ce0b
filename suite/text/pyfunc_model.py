"""The text classifier's pyfunc model as MLflow's "models from code": MLflow runs this file
when it loads the model (see suite.mlmodels.log_text_model)."""

import mlflow.models

from suite.text.serving import TextClassifier

mlflow.models.set_model(TextClassifier())
