"""suite: declarative head-to-head benchmarks of Keras architectures."""

__version__ = "0.1.0"

from suite.startup import offline as _offline

_offline()  # before MLflow is imported: no telemetry unless the user opts in
