"""The tokenizer registry and the typed `tokenizer:` spec (one member per registered kind).

Each kind is one function whose keyword parameters are its own options (its schema) and which
returns the object that learns and applies it (suite.text.kinds, imported lazily). Options all
kinds share live in `TokenizerCommon`. Vocabulary sizes count the reserved tokens.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationInfo, create_model, field_validator, model_validator

from suite.registry import Registry
from suite.spec.base import Strict
from suite.spec.signature import params_model, relation_validators

TOKENIZERS: Registry[Any] = Registry("tokenizer")

Size = Annotated[int, Field(ge=2)]
MinFreq = Annotated[int, Field(ge=1)]
Coverage = Annotated[float, Field(gt=0, le=1)]  # the share of characters sentencepiece covers


class Reserved(Strict):
    """Reserved tokens: padding is always id 0, unknown id 1, then start, end, mask if set."""

    pad: str = Field("[PAD]", description="id 0, also the padding of every sequence")
    unk: str = Field("[UNK]", description="id 1, what an unknown token becomes")
    start: str | None = Field(None, description="prepended to every example when set")
    end: str | None = Field(None, description="appended to every example when set")
    mask: str | None = Field(None, description="a mask token kept in the vocabulary")

    def tokens(self) -> list[str]:
        """The reserved tokens in id order."""
        return [t for t in (self.pad, self.unk, self.start, self.end, self.mask) if t is not None]

    @model_validator(mode="after")
    def _distinct(self) -> Reserved:
        if len(set(self.tokens())) != len(self.tokens()):
            raise ValueError(f"reserved tokens must differ; received {self.tokens()}")
        return self


class TokenizerCommon(Strict):
    """Options every tokenizer has: normalization, length and the reserved tokens."""

    lower: bool = Field(False, description="lower-case (Unicode-aware) before tokenizing")
    normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = Field(
        None, description="Unicode normalization form applied before tokenizing"
    )
    max_length: int = Field(128, ge=1, description="tokens per example, padded or truncated")
    truncation: Literal["right", "left"] = Field(
        "right", description="right keeps the beginning of a long text, left keeps its end"
    )
    reserved: Reserved = Field(default_factory=Reserved)

    @field_validator("reserved")
    @classmethod
    def _room_in_max_length(cls, v: Reserved, info: ValidationInfo) -> Reserved:
        length = info.data.get("max_length")
        ends = (v.start is not None) + (v.end is not None)
        if length is not None and length - ends < 1:
            raise ValueError(
                f"max_length={length} leaves no room for tokens besides the start/end tokens"
            )
        return v

    @field_validator("vocab_size", check_fields=False)
    @classmethod
    def _room_in_vocabulary(cls, v: int | None, info: ValidationInfo) -> int | None:
        reserved = info.data.get("reserved")
        n = len(reserved.tokens()) if isinstance(reserved, Reserved) else 0
        if v is not None and v - n < 1:
            raise ValueError(
                f"vocab_size={v} leaves no room after the {n} reserved tokens; use at least {n + 1}"
            )
        return v


def tokenizer(name: str) -> Any:
    """Register a tokenizer kind under `name`."""
    return TOKENIZERS.register(name)


@tokenizer("char")
def char(vocab_size: Size | None = None, min_frequency: MinFreq = 1) -> Any:
    """Unicode code points; the vocabulary is the training split's characters by frequency."""
    from suite.text.kinds import Counted

    return Counted("char", vocab_size, min_frequency)


@tokenizer("byte")
def byte() -> Any:
    """UTF-8 bytes: a fixed vocabulary of 256 bytes after the reserved tokens, nothing unknown."""
    from suite.text.kinds import Bytes

    return Bytes()


@tokenizer("whitespace")
def whitespace(vocab_size: Size | None = None, min_frequency: MinFreq = 1) -> Any:
    """Words split on whitespace; the vocabulary is the training split's words by frequency."""
    from suite.text.kinds import Counted

    return Counted("whitespace", vocab_size, min_frequency)


@tokenizer("unicode_script")
def unicode_script(vocab_size: Size | None = None, min_frequency: MinFreq = 1) -> Any:
    """Words split where the Unicode script changes (punctuation apart from letters)."""
    from suite.text.kinds import Counted

    return Counted("unicode_script", vocab_size, min_frequency)


@tokenizer("wordpiece")
def wordpiece(
    vocab_size: Size = 8000,
    min_frequency: MinFreq = 1,
    split: Literal["whitespace", "unicode_script"] = "unicode_script",
) -> Any:
    """WordPiece subwords (## continuations) learned on the training split's words."""
    from suite.text.kinds import WordPiece

    return WordPiece(vocab_size, min_frequency, split)


@tokenizer("sentencepiece_unigram")
def sentencepiece_unigram(vocab_size: Size = 8000, character_coverage: Coverage = 1.0) -> Any:
    """SentencePiece unigram model trained on the training split (sentencepiece package)."""
    from suite.text.kinds import SentencePiece

    return SentencePiece("unigram", vocab_size, character_coverage)


@tokenizer("sentencepiece_bpe")
def sentencepiece_bpe(vocab_size: Size = 8000, character_coverage: Coverage = 1.0) -> Any:
    """SentencePiece byte-pair encoding trained on the training split."""
    from suite.text.kinds import SentencePiece

    return SentencePiece("bpe", vocab_size, character_coverage)


@tokenizer("bert")
def bert(vocab_size: Size = 8000, min_frequency: MinFreq = 1, lower: bool = True) -> Any:
    """BERT-style: basic tokenizer (lower-casing strips accents, splits punctuation) + WordPiece."""
    from suite.text.kinds import Bert

    return Bert(vocab_size, min_frequency)


def _members() -> list[Any]:
    out = []
    for name, fn in TOKENIZERS.items():
        own = params_model(fn, f"tokenizer.{name}")
        fields: dict[str, Any] = {"kind": (Literal[name], ...)}
        fields.update({k: (f.annotation, f) for k, f in own.model_fields.items()})
        model = create_model(
            f"tokenizer:{name}",
            __base__=TokenizerCommon,
            __validators__=relation_validators(fn),
            **fields,
        )
        model.__doc__ = own.__doc__
        out.append(model)
    return out


TokenizerSpec = Annotated[Union[tuple(_members())], Field(discriminator="kind")]  # noqa: UP007


def own_options(spec: Any) -> dict[str, Any]:
    """The kind's own options (its function's parameters) of a validated spec."""
    import inspect

    fn = TOKENIZERS.get(spec.kind)
    return {p: getattr(spec, p) for p in inspect.signature(fn).parameters}
