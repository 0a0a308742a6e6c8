"""PolicyRecords: what OneCycle and CLR keep in `log` and `log_ep`, without Keras."""

from keras_one_cycle_clr._policy_records import PolicyRecords


def values_at(iteration):
    return {"lr": 0.01 * iteration}


def test_a_record_every_record_frq_iterations_whatever_the_execution_size():
    one_at_a_time, by_three = PolicyRecords(record_frq=4), PolicyRecords(record_frq=4)
    for end in range(12):
        one_at_a_time.add_batch_end(end, 1, values_at, {"loss": float(end)})
    for end in (2, 5, 8, 11):  # executions of three batches: ends at 2, 5, 8, 11
        by_three.add_batch_end(end, 3, values_at, {"loss": float(end)})
    assert one_at_a_time.table()["iter"] == [0, 4, 8]
    assert one_at_a_time.table()["lr"] == [0.0, 0.04, 0.08]
    # With three batches an execution, the record of iteration 4 carries the logs of batch 5, the
    # end of the execution that passed it (what Keras reports there).
    assert by_three.table() == {"iter": [0, 4, 8], "lr": [0.0, 0.04, 0.08], "loss": [2.0, 5.0, 8.0]}


def test_epoch_records_keep_lr_once_and_clear_empties_both():
    records = PolicyRecords(record_frq=1)
    records.add_batch_end(0, 1, values_at, None)
    records.add_epoch_end(0, {"lr": 0.1, "momentum": 0.9}, {"loss": 1.5, "learning_rate": 0.1})
    records.add_epoch_end(1, {"lr": 0.2, "momentum": 0.8}, {"loss": 1.0, "learning_rate": 0.2})
    assert records.by_epoch == {"epoch": [0, 1], "lr": [0.1, 0.2], "momentum": [0.9, 0.8], "loss": [1.5, 1.0]}
    records.clear()
    assert records.table() == {}
    assert records.by_epoch == {}
