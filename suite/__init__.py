"""suite: declarative head-to-head benchmarks of Keras architectures."""

__version__ = "0.1.0"
