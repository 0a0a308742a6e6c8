"""Training histories: concatenate them, save and load them as CSV, smooth them, free memory between runs.

A history here is either a `keras.callbacks.History` (what `model.fit` returns) or a plain dict from a
metric name to one value per epoch, optionally with an `"epoch"` list. Every history returned is a
plain dict `{"epoch": [int, ...], metric: [float, ...]}`, which `plot_from_history` and `json` accept.
"""

from __future__ import annotations

import csv
import gc
import math
import os
from collections.abc import Mapping

import keras
import numpy as np

from keras_one_cycle_clr._checks import check_bool, check_count, fail

# Keras' CSVLogger writes "NA" for a metric missing from an epoch; pandas writes an empty field.
_MISSING_IN_CSV = ("", "NA")


def _epoch_list(name, values):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        fail(f"{name}['epoch']", "a list of integers", values, TypeError)
    epochs = []
    for value in values:
        try:
            integral = not isinstance(value, bool) and float(value).is_integer()
        except (TypeError, ValueError):
            integral = False
        if not integral:
            fail(f"{name}['epoch']", "a list of integers", values, TypeError)
        epochs.append(int(value))
    return epochs


def _history_columns(history, name):
    """Returns one history as `{"epoch": [int, ...], metric: [float, ...]}`, every list the same length."""
    if isinstance(history, keras.callbacks.History):
        metrics = history.history
        # A History that never saw `fit` has no `epoch` attribute at all.
        epochs = list(getattr(history, "epoch", []))
    elif isinstance(history, Mapping):
        metrics = {key: value for key, value in history.items() if key != "epoch"}
        epochs = history.get("epoch")
    else:
        requirement = "a keras.callbacks.History or a dict from metric name to a list of values"
        fail(name, requirement, history, TypeError)
    columns = {}
    for key, values in metrics.items():
        if not isinstance(key, str):
            fail(name, "a history whose metric names are strings", history, TypeError)
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            array = None
        if array is None or array.ndim != 1:
            msg = (
                f"Argument `{name}` must hold one number per epoch for each metric. "
                f"Received: {name}[{key!r}]={values!r}"
            )
            raise TypeError(msg)
        columns[key] = array.tolist()
    lengths = {key: len(values) for key, values in columns.items()}
    if epochs is None:
        epochs = list(range(next(iter(lengths.values()), 0)))
    else:
        epochs = _epoch_list(name, epochs)
        lengths = {"epoch": len(epochs), **lengths}
    if len(set(lengths.values())) > 1:
        # A History from `fit(..., validation_freq=k)` with k > 1 ends up here: its `val_` lists have no
        # entry for the epochs that skipped validation, so they cannot be lined up with the others.
        msg = (
            f"Argument `{name}` must have the same number of values for every metric (one per epoch). "
            f"Received: {name} with lengths {lengths}"
        )
        raise ValueError(msg)
    return {"epoch": epochs, **columns}


def concatenate_history(hlist, reindex_epoch=False):
    """Joins several training histories, in order, into one dict of per-epoch lists.

    Training in several `fit` calls (one one-cycle policy after another, say) leaves one
    `keras.callbacks.History` per call. This puts them end to end. A metric that some parts lack
    (`val_loss` when only one `fit` had `validation_data`) is kept and padded with NaN for the epochs of
    those parts, so every list has one entry per epoch.

    Epochs come from each `History.epoch` (from a dict's own `"epoch"` list when it has one, otherwise
    0, 1, ...). Two `fit` calls without `initial_epoch` therefore both start at 0; pass
    `reindex_epoch=True` to number the joined epochs 0, 1, ..., N - 1 instead.

    Example:

    >>> from keras_one_cycle_clr.history import concatenate_history
    >>> first = {"loss": [1.0, 0.5]}
    >>> second = {"loss": [0.4, 0.3], "val_loss": [0.45, 0.35]}
    >>> concatenate_history([first, second])
    {'epoch': [0, 1, 0, 1], 'loss': [1.0, 0.5, 0.4, 0.3], 'val_loss': [nan, nan, 0.45, 0.35]}
    >>> concatenate_history([first, second], reindex_epoch=True)["epoch"]
    [0, 1, 2, 3]

    Args:
        hlist: A non-empty list of `keras.callbacks.History` objects (as returned by `model.fit`) or
            dicts from a metric name to a list with one number per epoch, or a mix of both. A dict may
            carry its own `"epoch"` list, so the result of this function can be joined again.
        reindex_epoch: A Python bool. Whether to renumber the epochs 0, 1, ..., N - 1 across all the
            parts instead of keeping each part's own numbers. Defaults to False.

    Returns:
        A dict `{"epoch": [int, ...], metric: [float, ...], ...}` with one entry per epoch in every
        list: `"epoch"` first, then the metrics in the order they first appear.

    Raises:
        TypeError: If `hlist` is not a list or tuple, if one of its items is neither a History nor a
            dict, or if a metric does not hold one number per epoch.
        ValueError: If `hlist` is empty, or if the lists of one part have different lengths (as with
            `fit(..., validation_freq=2)`, whose `val_` lists skip epochs).
    """
    if not isinstance(hlist, (list, tuple)):
        fail("hlist", "a list of keras.callbacks.History objects or dicts", hlist, TypeError)
    if not hlist:
        fail("hlist", "a non-empty list of keras.callbacks.History objects or dicts", hlist)
    reindex_epoch = check_bool("reindex_epoch", reindex_epoch)
    parts = [_history_columns(part, f"hlist[{index}]") for index, part in enumerate(hlist)]
    keys = list(dict.fromkeys(key for part in parts for key in part))
    joined = {key: [] for key in keys}
    for part in parts:
        missing = [math.nan] * len(part["epoch"])
        for key in keys:
            joined[key].extend(part.get(key, missing))
    if reindex_epoch:
        joined["epoch"] = list(range(len(joined["epoch"])))
    return joined


def _check_filepath(filepath):
    if not isinstance(filepath, (str, os.PathLike)):
        fail("filepath", "a str or os.PathLike path to a CSV file", filepath, TypeError)


def save_history_to_csv(history, filepath):
    """Writes a training history to a CSV file with one row per epoch and an `epoch` column first.

    Floats are written in full (`repr`) precision and NaN as `nan`, so `load_history_from_csv` gives back
    exactly the same values. The file is overwritten if it exists.

    Example:

    >>> import pathlib, tempfile
    >>> from keras_one_cycle_clr.history import load_history_from_csv, save_history_to_csv
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "history.csv"
    ...     save_history_to_csv({"loss": [1.0, 0.5], "val_loss": [float("nan"), 0.6]}, path)
    ...     print(path.read_text().strip())
    ...     load_history_from_csv(path)
    epoch,loss,val_loss
    0,1.0,nan
    1,0.5,0.6
    {'epoch': [0, 1], 'loss': [1.0, 0.5], 'val_loss': [nan, 0.6]}

    Args:
        history: A `keras.callbacks.History` or a dict from a metric name to a list with one number per
            epoch, optionally with an `"epoch"` list (such as the result of `concatenate_history`).
        filepath: A str or `os.PathLike`. Where to write the CSV file.

    Returns:
        None.

    Raises:
        TypeError: If `history` is neither a History nor a dict of per-epoch lists, or if `filepath` is
            not a path.
        ValueError: If the lists of `history` have different lengths.
    """
    columns = _history_columns(history, "history")
    _check_filepath(filepath)
    with open(filepath, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        # csv writes a float with str(), which for Python floats is the shortest repr that round-trips.
        writer.writerows(zip(*columns.values(), strict=True))


def _parse_float(text, filepath, row, column):
    if text.strip() in _MISSING_IN_CSV:
        return math.nan
    try:
        return float(text)
    except ValueError:
        msg = (
            f"Argument `filepath` must be a CSV file of numbers. "
            f"Received: filepath={filepath!r} with {text!r} in column {column!r} of row {row}"
        )
        raise ValueError(msg) from None


def load_history_from_csv(filepath):
    """Reads a training history written by `save_history_to_csv` or by `keras.callbacks.CSVLogger`.

    The first row names the columns. An `epoch` column is read as integers (and numbered 0, 1, ... when
    the file has none); every other column as floats, with `nan`, `NA` and empty fields read as NaN.

    Example:

    >>> import pathlib, tempfile
    >>> from keras_one_cycle_clr.history import load_history_from_csv
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "log.csv"
    ...     _ = path.write_text("epoch,loss,val_loss\\n0,0.9,NA\\n1,0.7,0.8\\n")
    ...     load_history_from_csv(path)
    {'epoch': [0, 1], 'loss': [0.9, 0.7], 'val_loss': [nan, 0.8]}

    Args:
        filepath: A str or `os.PathLike`. The CSV file to read.

    Returns:
        A dict `{"epoch": [int, ...], metric: [float, ...], ...}` in the file's column order, `"epoch"`
        first, ready for `concatenate_history` or `plot_from_history`.

    Raises:
        TypeError: If `filepath` is not a path.
        FileNotFoundError: If there is no file at `filepath`.
        ValueError: If the file has no header row, repeats a column name, has a row with the wrong
            number of fields, or holds a value that is not a number.
    """
    _check_filepath(filepath)
    with open(filepath, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if not rows or not rows[0]:
        fail("filepath", "a CSV file whose first row names the columns", filepath)
    header, body = rows[0], [row for row in rows[1:] if row]
    if len(set(header)) != len(header):
        fail("filepath", "a CSV file with distinct column names", filepath)
    columns = {name: [] for name in header}
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            msg = (
                f"Argument `filepath` must be a CSV file with {len(header)} fields in every row. "
                f"Received: filepath={filepath!r} with {len(row)} fields in row {number}"
            )
            raise ValueError(msg)
        for name, text in zip(header, row, strict=True):
            columns[name].append(_parse_float(text, filepath, number, name))
    if "epoch" in columns:
        epochs = columns.pop("epoch")
        if not all(math.isfinite(epoch) and epoch.is_integer() for epoch in epochs):
            fail("filepath", "a CSV file whose `epoch` column holds integers", filepath)
        epochs = [int(epoch) for epoch in epochs]
    else:
        epochs = list(range(len(body)))
    return {"epoch": epochs, **columns}


def moving_window_avg(x, window):
    """Trailing moving average of a 1-D sequence, the same length as the input.

    Entry `i` is the mean of `x[i - window + 1 : i + 1]`; the first `window - 1` entries average the
    values available so far, so no output is lost at the start and nothing is read ahead of `i`.
    NaN is not skipped: every window that contains a NaN averages to NaN (and only those windows).

    Example:

    >>> from keras_one_cycle_clr.history import moving_window_avg
    >>> moving_window_avg([1.0, 2.0, 3.0, 4.0, 5.0], window=3)
    array([1. , 1.5, 2. , 3. , 4. ])

    Args:
        x: A 1-D sequence or array of numbers, such as a loss recorded per iteration.
        window: A Python int >= 1. How many values, ending at the current one, each mean covers. A
            window longer than `x` gives the running mean.

    Returns:
        A float64 `np.ndarray` of the same length as `x`.

    Raises:
        TypeError: If `window` is not an integer, or `x` does not hold numbers.
        ValueError: If `window` is < 1, or `x` is not one-dimensional.
    """
    window = check_count("window", window)
    try:
        values = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        fail("x", "a 1-D sequence of numbers", x, TypeError)
    if values.ndim != 1:
        fail("x", "one-dimensional", x)
    if values.size == 0:
        return values
    # A direct convolution sums each window on its own, unlike a cumulative sum, so a NaN spoils only
    # the windows that contain it and long inputs accumulate no rounding drift.
    sums = np.convolve(values, np.ones(min(window, values.size)))[: values.size]
    return sums / np.minimum(np.arange(1, values.size + 1), window)


def _empty_torch_cuda_cache():
    if keras.backend.backend() != "torch":
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def reset_keras():
    """Clears Keras' global state and frees what it held, to start the next model from scratch.

    The Keras 3 equivalent of the 2019 helper that closed and replaced the TF1 session: call it between
    models built in a loop (one range test per weight decay, say) so that layer names restart and the
    memory of models no longer referenced is returned. On every backend it runs
    `keras.utils.clear_session(free_memory=True)`, which resets Keras' name and state trackers and runs
    `gc.collect()`, and additionally:

    - TensorFlow: `clear_session` also resets TF's default graph and eager kernel caches. TF keeps the
      GPU memory it reserved for the process, so nothing more can be released.
    - JAX: nothing more; device buffers are freed as soon as their arrays are garbage collected.
    - PyTorch: `clear_session` also resets torch.compile's (dynamo) caches; with CUDA available,
      `torch.cuda.empty_cache()` then returns the allocator's cached blocks to the driver.

    Models and layers you still hold keep working, but new ones no longer share names or state with
    them; build fresh models after calling this.

    Example:

    >>> import keras
    >>> from keras_one_cycle_clr.history import reset_keras
    >>> reset_keras()
    >>> keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]).count_params()
    4

    Returns:
        None.

    Raises:
        Nothing of its own.
    """
    keras.utils.clear_session(free_memory=True)
    _empty_torch_cuda_cache()


def cuda_release_memory():
    """Frees the memory of unreferenced objects, and on PyTorch with CUDA returns cached GPU memory.

    The Keras 3 equivalent of the 2019 helper that released GPU memory by closing the TF1 session. It
    leaves Keras' global state alone (see `reset_keras` to clear that too) and:

    - on every backend, runs `gc.collect()` so that arrays and tensors no longer referenced (reference
      cycles included) are freed at once;
    - TensorFlow: nothing more; TF keeps the GPU memory it reserved for the process until it exits.
    - JAX: nothing more; freed arrays return their buffers to JAX's own allocator.
    - PyTorch with CUDA available: `torch.cuda.empty_cache()` also returns the caching allocator's unused
      blocks to the driver, so other processes (and `nvidia-smi`) see them free.

    Example:

    >>> from keras_one_cycle_clr.history import cuda_release_memory
    >>> cuda_release_memory()

    Returns:
        None.

    Raises:
        Nothing of its own.
    """
    gc.collect()
    _empty_torch_cuda_cache()
