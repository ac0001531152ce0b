"""Datasets: registered loaders and the fixed, fingerprinted splits the suite trains on."""

from suite.data import frames as frames
from suite.data import loaders as loaders
from suite.data.base import DATASETS, DataError, Dataset, Raw, Split
from suite.data.prepare import clear_cache, prepare

__all__ = ["DATASETS", "DataError", "Dataset", "Raw", "Split", "clear_cache", "loaders", "prepare"]
