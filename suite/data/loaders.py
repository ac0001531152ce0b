"""Importing this module registers every built-in dataset loader in DATASETS.

Each loader is one function whose keyword parameters are its schema and which returns a Raw;
heavy libraries (sklearn, pandas, mnist1d) are imported inside the loaders, never here.
"""

from __future__ import annotations

from suite.data.arrays import csv, npz
from suite.data.canvas import canvas
from suite.data.charlm import tiny_shakespeare
from suite.data.conll import ud_english_atis, uner_english_ewt
from suite.data.images import digits, fashion_mnist
from suite.data.lemmas import ud_lemmas
from suite.data.series import co2, sunspots
from suite.data.synthetic import mnist1d
from suite.data.text import ag_news, cr, mpqa, mr, rotten_tomatoes, sms_spam, sst1, sst2, subj, trec
from suite.data.textfile import text_file
from suite.data.ucr import ucr

__all__ = [
    "ag_news",
    "canvas",
    "co2",
    "cr",
    "csv",
    "digits",
    "fashion_mnist",
    "mnist1d",
    "mpqa",
    "mr",
    "npz",
    "rotten_tomatoes",
    "sms_spam",
    "sst1",
    "sst2",
    "subj",
    "sunspots",
    "text_file",
    "tiny_shakespeare",
    "trec",
    "ucr",
    "ud_english_atis",
    "ud_lemmas",
    "uner_english_ewt",
]
