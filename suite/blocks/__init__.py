"""The block registry; importing this package registers every built-in block."""

from suite.blocks import cnn, core, rnn  # noqa: F401  (registration)
from suite.blocks import convnets  # noqa: F401  (registration)
from suite.blocks import recurrent  # noqa: F401  (registration)
from suite.blocks import segmentation  # noqa: F401  (registration)
from suite.blocks import augment  # noqa: F401  (registration)
from suite import transfer  # noqa: F401  (registration: the pretrained block)
from suite.blocks.base import BLOCKS, SEQUENCE_CONSUMERS, One, Stack

__all__ = ["BLOCKS", "SEQUENCE_CONSUMERS", "One", "Stack"]
