"""Text: tokenizers on tensorflow-text, vocabularies fitted on train, token ids cached on disk.

Importing this package registers the tokenizer kinds (no TensorFlow import); TensorFlow is
imported only when a tokenizer is fitted or applied (suite.text.fit).
"""

from suite.text.spec import TOKENIZERS, TokenizerSpec

__all__ = ["TOKENIZERS", "TokenizerSpec"]
