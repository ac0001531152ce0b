"""Data augmentation for images (batch, height, width, channels): Keras' random preprocessing
layers, which transform inputs in training only and are the identity at inference."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from suite.blocks.base import IMG, block

Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]
Fill = Literal["reflect", "wrap", "constant", "nearest"]
Flip = Literal["horizontal", "vertical", "horizontal_and_vertical"]


@block("random_flip", example=(IMG, ["random_flip", "flatten"]))
def random_flip(mode: Flip = "horizontal") -> Any:
    """Random flips of images (training only)."""
    from keras import layers

    return layers.RandomFlip(mode)


@block("random_rotation", example=(IMG, [{"random_rotation": {"factor": 0.1}}, "flatten"]))
def random_rotation(factor: Fraction = 0.1, fill_mode: Fill = "reflect") -> Any:
    """Random rotations of images by up to factor x 360 degrees either way (training only)."""
    from keras import layers

    return layers.RandomRotation(factor, fill_mode=fill_mode)


@block("random_translation", example=(IMG, ["random_translation", "flatten"]))
def random_translation(
    height: Fraction = 0.1, width: Fraction | None = None, fill_mode: Fill = "reflect"
) -> Any:
    """Random shifts of images by up to these fractions of their size (training only)."""
    from keras import layers

    return layers.RandomTranslation(height, height if width is None else width, fill_mode=fill_mode)


@block("random_zoom", example=(IMG, [{"random_zoom": {"factor": 0.2}}, "flatten"]))
def random_zoom(
    factor: Fraction = 0.1, width: Fraction | None = None, fill_mode: Fill = "reflect"
) -> Any:
    """Random zoom in or out by up to `factor` (width: the same unless given; training only)."""
    from keras import layers

    return layers.RandomZoom(factor, None if width is None else width, fill_mode=fill_mode)


@block("random_contrast", example=(IMG, [{"random_contrast": {"factor": 0.3}}, "flatten"]))
def random_contrast(factor: Fraction = 0.2, value_range: tuple[float, float] = (0.0, 1.0)) -> Any:
    """Random contrast by up to `factor`; outputs are clipped to value_range (training only)."""
    from keras import layers

    return layers.RandomContrast(factor, value_range=value_range)


@block(
    "augment",
    example=(IMG, [{"augment": {"flip": "horizontal", "rotation": 0.05, "zoom": 0.1}}, "flatten"]),
)
def augment(
    flip: Flip | None = None,
    rotation: Fraction = 0.0,
    translation: Fraction = 0.0,
    zoom: Fraction = 0.0,
    contrast: Fraction = 0.0,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> Any:
    """Several image augmentations in one block; 0 (or no flip) turns one off (training only)."""
    from keras import layers

    steps: list[Any] = []
    if flip:
        steps.append(layers.RandomFlip(flip))
    if rotation:
        steps.append(layers.RandomRotation(rotation, fill_mode="reflect"))
    if translation:
        steps.append(layers.RandomTranslation(translation, translation, fill_mode="reflect"))
    if zoom:
        steps.append(layers.RandomZoom(zoom, fill_mode="reflect"))
    if contrast:
        steps.append(layers.RandomContrast(contrast, value_range=value_range))

    def apply(x: Any) -> Any:
        for step in steps:
            x = step(x)
        return x

    return apply
