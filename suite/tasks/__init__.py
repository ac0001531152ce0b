"""Tasks: one module per task on the abstract `Task` (suite.tasks.base), each registering an
instance in TASKS; importing this package registers them all."""

from suite.tasks import (  # noqa: F401  (each registers its task)
    classification,
    forecasting,
    language_modeling,
    segmentation,
    seq2seq,
    tagging,
    text,
)
from suite.tasks.base import TASKS, Direction, Task, direction_of
from suite.tasks.classification import Classification

__all__ = ["TASKS", "Classification", "Direction", "Task", "direction_of"]
