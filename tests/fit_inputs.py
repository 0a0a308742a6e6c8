"""Every kind of input `model.fit` takes, built from the same arrays, for tests that must take them all."""

import keras
import pytest


def fit_inputs(x, y, batch_size):
    """{name: () -> (args, fit kwargs)}: arrays, a PyDataset, tf.data (once and repeated), a Python
    generator and a torch DataLoader, each `len(x) // batch_size` batches per epoch (the last partial
    batch dropped where the input batches itself)."""
    batches = len(x) // batch_size

    def batch(index):
        part = slice(index * batch_size, (index + 1) * batch_size)
        return x[part], y[part]

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return batches

        def __getitem__(self, index):
            return batch(index)

    def forever():
        while True:
            for index in range(batches):
                yield batch(index)

    def tf_dataset(repeat=False):
        tf = pytest.importorskip("tensorflow")
        dataset = tf.data.Dataset.from_tensor_slices((x[: batches * batch_size], y[: batches * batch_size]))
        dataset = dataset.batch(batch_size)
        return dataset.repeat() if repeat else dataset

    def torch_loader():
        torch = pytest.importorskip("torch")
        data = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        return torch.utils.data.DataLoader(data, batch_size=batch_size, drop_last=True)

    return {
        "numpy": lambda: ((x, y), {"batch_size": batch_size}),
        "pydataset": lambda: ((Batches(),), {}),
        "generator-with-steps": lambda: ((forever(),), {"steps_per_epoch": batches}),
        "tf-data": lambda: ((tf_dataset(),), {}),
        "tf-data-repeated-with-steps": lambda: ((tf_dataset(repeat=True),), {"steps_per_epoch": batches}),
        "torch-dataloader": lambda: ((torch_loader(),), {}),
    }
