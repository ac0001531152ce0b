"""The block registry; importing this package registers every built-in block."""

from suite.blocks import (  # noqa: F401  (registration)
    augment,
    cnn,
    convnets,
    core,
    pretrained,
    recurrent,
    rnn,
    segmentation,
    seq2seq,
    tagging,
    text,
)
from suite.blocks.base import BLOCKS, SEQUENCE_CONSUMERS, One, Stack

__all__ = ["BLOCKS", "SEQUENCE_CONSUMERS", "One", "Stack"]
