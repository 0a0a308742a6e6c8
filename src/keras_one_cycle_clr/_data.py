"""How many batches an epoch has, for every input `model.fit` takes."""

from __future__ import annotations

import math

import keras
import numpy as np

from keras_one_cycle_clr import _checks


def steps_per_epoch(dataset, batch_size=None, *, name="dataset") -> int:
    """The number of batches `model.fit(dataset, batch_size=batch_size)` runs per epoch.

    Knows NumPy arrays (and anything with a `shape`, batched by `batch_size`, Keras's default 32),
    `keras.utils.PyDataset`, `tf.data.Dataset` of known cardinality and torch `DataLoader`s.

    Args:
        dataset: The training input.
        batch_size: The `batch_size` given to `fit` for arrays, or None for Keras's 32.
        name: The caller's name for `dataset`, for messages. Defaults to "dataset".

    Raises:
        ValueError: for an input whose length is unknown (a Python generator, an infinite dataset);
            pass `steps_per_epoch` to `fit` and compute the epochs from it instead. Also for arrays
            without samples.
        TypeError: for a string, a scalar, or an empty list, tuple or dict.
    """
    if isinstance(dataset, (str, bytes)):  # has a length, but is no training input
        _checks.fail(
            name, "training data (arrays, a PyDataset, a tf.data.Dataset, a DataLoader)", dataset, TypeError
        )
    if isinstance(dataset, (list, tuple, dict)):
        if not dataset:
            _checks.fail(name, "a non-empty list, tuple or dict of arrays", dataset, TypeError)
        first = next(iter(dataset.values())) if isinstance(dataset, dict) else dataset[0]
        return steps_per_epoch(first, batch_size, name=name)
    if hasattr(dataset, "shape") and not isinstance(dataset, keras.utils.PyDataset):
        shape = np.shape(dataset)
        if len(shape) == 0:
            _checks.fail(name, "an array with one row per sample, not a scalar", dataset, TypeError)
        if shape[0] == 0:
            msg = f"Argument `{name}` must hold at least one sample. Received: {name} of shape {shape}"
            raise ValueError(msg)
        batch_size = 32 if batch_size is None else _checks.check_count("batch_size", batch_size)
        return max(1, math.ceil(int(shape[0]) / batch_size))
    if _is_tf_dataset(dataset):
        cardinality = int(dataset.cardinality())
        if cardinality > 0:
            return cardinality
    elif not callable(getattr(dataset, "__next__", None)) and hasattr(dataset, "__len__"):
        return len(dataset)  # PyDataset, torch DataLoader
    msg = (
        f"Argument `{name}` must have a known number of batches per epoch, but that of "
        f"{type(dataset).__name__} is unknown. Pass `steps_per_epoch` to `model.fit` (and work out "
        "the epochs from it) for inputs without a length such as Python generators or infinite "
        f"datasets. Received: {name}={dataset!r}"
    )
    raise ValueError(msg)


def _is_tf_dataset(dataset) -> bool:
    return type(dataset).__module__.startswith("tensorflow") and hasattr(dataset, "cardinality")
