"""Importing this module registers every built-in dataset loader in DATASETS.

Each loader is one function whose keyword parameters are its schema and which returns a Raw;
heavy libraries (sklearn, pandas, mnist1d) are imported inside the loaders, never here.
"""

from __future__ import annotations

from suite.data.arrays import csv, npz
from suite.data.canvas import canvas
from suite.data.images import digits, fashion_mnist
from suite.data.series import co2, sunspots
from suite.data.synthetic import mnist1d
from suite.data.ucr import ucr

__all__ = ["canvas", "co2", "csv", "digits", "fashion_mnist", "mnist1d", "npz", "sunspots", "ucr"]
