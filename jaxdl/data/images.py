"""Fashion-MNIST's classes and its images on the device.

:func:`text_labels` names class indices after the book; :func:`to_device` moves uint8 images
to the device once and scales them there, keeping their shape: float32 ``[n, height, width, 1]``
in [0, 1], channels-last (NHWC), the layout ``flax.linen.Conv`` takes. Flattening is the
models' job (:func:`jaxdl.models.softmax.flatten`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.errors import InputError, InputTypeError

NUM_CLASSES = 10
TEXT_LABELS = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)


def text_labels(labels) -> list[str]:
    """The book's names of Fashion-MNIST classes.

    Args:
      labels: class indices [n], integers in [0, 10).

    Returns:
      One name per label, from ``TEXT_LABELS``.

    Raises:
      TypeError: when ``labels`` are not integers.
      ValueError: when ``labels`` is not 1-D or holds a value outside [0, 10).

    >>> text_labels([0, 9, 5])
    ['t-shirt', 'ankle boot', 'sandal']
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "ui":
        raise InputTypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise InputError(f"labels: expected a 1-D array [n], got shape {labels.shape}")
    bad = labels[(labels < 0) | (labels >= NUM_CLASSES)]
    if bad.size:
        raise InputError(
            f"labels: expected class indices in [0, {NUM_CLASSES}), got {bad.tolist()}"
        )
    return [TEXT_LABELS[int(i)] for i in labels]


def to_device(images, device=None) -> jax.Array:
    """Moves uint8 images to the device once, then scales them there, keeping their shape.

    Only the uint8 array crosses to the device (a quarter of the float32 bytes); the channel
    axis, the cast and the division by 255 are ``jnp`` operations on the device. The result
    is channels-last (NHWC), the layout ``flax.linen.Conv`` takes; a model of dense layers
    flattens it itself (:func:`jaxdl.models.softmax.flatten`). Labels need no helper:
    ``jnp.asarray(split.labels)`` (or ``jax.device_put``) moves them as int32.

    Args:
      images: uint8 [n, height, width] (one channel) or [n, height, width, channels], NumPy
        or JAX.
      device: a ``jax.Device`` or ``Sharding`` for ``jax.device_put``; None is the default
        device.

    Returns:
      float32 [n, height, width, 1] (from [n, height, width]) or [n, height, width, channels]
      in [0, 1], on the device.

    Raises:
      TypeError: when ``images`` are not uint8.
      ValueError: when ``images`` have neither 3 nor 4 dimensions.

    >>> x = to_device(np.array([[[0, 255], [51, 102]]], np.uint8))
    >>> x.shape, x.dtype
    ((1, 2, 2, 1), dtype('float32'))
    >>> x[0, :, :, 0]
    Array([[0. , 1. ],
           [0.2, 0.4]], dtype=float32)
    """
    if not isinstance(images, jax.Array):
        images = np.asarray(images)
    if images.dtype != np.uint8:
        raise InputTypeError(f"images: expected uint8 pixel values, got dtype {images.dtype}")
    if images.ndim not in (3, 4):
        raise InputError(
            "images: expected [n, height, width] or [n, height, width, channels], got shape "
            f"{images.shape}"
        )
    x = jax.device_put(images, device)
    if x.ndim == 3:
        x = jnp.expand_dims(x, axis=-1)
    return x.astype(jnp.float32) / 255.0
