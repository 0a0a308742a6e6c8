"""What `OneCycle` and `CLR` record while they run: `log` every `record_frq` iterations, `log_ep`
every epoch. Observation only: nothing here changes training."""

from __future__ import annotations


class PolicyRecords:
    """The records of one cycle (kept across fits while the cycle goes on).

    Args:
        record_frq: A Python int >= 1: keep a record every this many iterations.
    """

    def __init__(self, record_frq):
        self.record_frq = record_frq
        self.by_iteration = {}  # iteration -> {"iter", "lr", "momentum", Keras's logs...}
        self.by_epoch = {}  # {"epoch": [...], "lr": [...], ...}

    def clear(self):
        self.by_iteration = {}
        self.by_epoch = {}

    def table(self):
        """`{"iter": [...], "lr": [...], ...}`, in iteration order."""
        table = {}
        for iteration in sorted(self.by_iteration):
            for key, value in self.by_iteration[iteration].items():
                table.setdefault(key, []).append(value)
        return table

    def add_batch_end(self, end, batches_per_execution, values_at, logs):
        """After the execution whose last batch is `end` batches into the cycle: keeps the record of
        the multiple of `record_frq` it passed, if any (`values_at(iteration)` gives its values)."""
        if end // self.record_frq == (end - batches_per_execution) // self.record_frq:
            return
        iteration = end // self.record_frq * self.record_frq
        self.by_iteration[iteration] = {"iter": iteration, **values_at(iteration), **(logs or {})}

    def add_epoch_end(self, epoch, values, logs):
        """At an epoch's end: the scheduled `values` ("lr", "momentum") and Keras's `logs`."""
        self.by_epoch.setdefault("epoch", []).append(epoch)
        for key, value in {**values, **(logs or {})}.items():
            if key != "learning_rate":  # the same as "lr"
                self.by_epoch.setdefault(key, []).append(value)
