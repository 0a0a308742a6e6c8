"""How many batches an epoch has, for every input `model.fit` takes."""

from __future__ import annotations

import math

import keras
import numpy as np

from keras_one_cycle_clr import _checks


def steps_per_epoch(dataset, batch_size=None) -> int:
    """The number of batches `model.fit(dataset, batch_size=batch_size)` runs per epoch.

    Knows NumPy arrays (and anything with a `shape`, batched by `batch_size`, Keras's default 32),
    `keras.utils.PyDataset`, `tf.data.Dataset` of known cardinality and torch `DataLoader`s.

    Raises:
        ValueError: for an input whose length is unknown (a Python generator, an infinite dataset);
            pass `steps_per_epoch` to `fit` and compute the epochs from it instead.
    """
    if isinstance(dataset, (list, tuple, dict)):
        first = next(iter(dataset.values())) if isinstance(dataset, dict) else dataset[0]
        return steps_per_epoch(first, batch_size)
    if hasattr(dataset, "shape") and not isinstance(dataset, keras.utils.PyDataset):
        size = int(np.shape(dataset)[0])
        batch_size = 32 if batch_size is None else _checks.check_count("batch_size", batch_size)
        return max(1, math.ceil(size / batch_size))
    if _is_tf_dataset(dataset):
        cardinality = int(dataset.cardinality())
        if cardinality > 0:
            return cardinality
    elif not callable(getattr(dataset, "__next__", None)) and hasattr(dataset, "__len__"):
        return len(dataset)  # PyDataset, torch DataLoader
    msg = (
        f"The number of batches per epoch of {type(dataset).__name__} is unknown. Pass "
        "`steps_per_epoch` to `model.fit` (and work out the epochs from it) for inputs without a "
        "length such as Python generators or infinite datasets."
    )
    raise ValueError(msg)


def _is_tf_dataset(dataset) -> bool:
    return type(dataset).__module__.startswith("tensorflow") and hasattr(dataset, "cardinality")
