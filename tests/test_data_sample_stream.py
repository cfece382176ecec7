"""The training stream: a sample is a function of (seed, position), so a resumed run reads what an
uninterrupted one reads, whatever the workers and processes."""
import itertools
import random

import numpy as np
import pytest
import torch

from gn_det.data.sample_stream import (
    ResumableTrainLoader,
    TrainingStream,
    _ProcessShard,
    epoch_order,
)
from gn_det.errors import DatasetError

RECORDS = [{"file_name": f"{i}.png", "width": 10, "height": 10} for i in range(7)]


def augment(record):
    """A mapper drawing from every global generator, as detectron2's augmentations may."""
    return {**record, "draws": (random.random(), float(np.random.rand()), float(torch.rand(())))}


def drop_everything(record):
    return None


def batches(loader, count):
    return [[(s["file_name"], s["draws"]) for s in batch]
            for batch in itertools.islice(iter(loader), count)]


def test_a_sample_depends_only_on_seed_and_position():
    stream = TrainingStream(RECORDS, augment, seed=3)
    first = stream[9]
    stream[2], random.random(), np.random.rand(), torch.rand(())
    assert stream[9] == first
    assert TrainingStream(RECORDS, augment, seed=3)[9] == first
    assert TrainingStream(RECORDS, augment, seed=4)[9] != first
    assert stream[10]["draws"] != first["draws"]


def test_reading_a_sample_leaves_the_global_generators_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    TrainingStream(RECORDS, augment, seed=3)[0]
    assert torch.equal(torch.rand(3), expected)


def test_every_epoch_visits_each_image_once_in_its_own_order():
    stream = TrainingStream(RECORDS, augment, seed=3)
    epochs = [[stream.record_index(p) for p in range(e * 7, (e + 1) * 7)] for e in range(3)]
    assert all(sorted(epoch) == list(range(7)) for epoch in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    assert epochs[1] == epoch_order(3, 1, 7).tolist()


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("grouping", [True, False])
def test_a_loader_started_at_an_iteration_reads_what_an_uninterrupted_one_reads(num_workers,
                                                                                 grouping):
    def loader():
        return ResumableTrainLoader(TrainingStream(RECORDS, augment, seed=5), 2,
                                    aspect_ratio_grouping=grouping, num_workers=num_workers)

    uninterrupted = batches(loader(), 6)
    resumed = loader()
    resumed.start_at(4)
    assert batches(resumed, 2) == uninterrupted[4:]
    assert uninterrupted == batches(ResumableTrainLoader(
        TrainingStream(RECORDS, augment, seed=5), 2, aspect_ratio_grouping=grouping,
        num_workers=0), 6)


def test_processes_split_each_iteration_batch_between_them():
    stream = TrainingStream(RECORDS, augment, seed=5)
    one_process = list(itertools.islice(_ProcessShard(stream, 8, 0, 1), 8))
    rank0, rank1 = (list(itertools.islice(_ProcessShard(stream, 8, rank, 2), 4))
                    for rank in (0, 1))
    assert [s["file_name"] for s in one_process] == [
        s["file_name"] for pair in zip(rank0, rank1) for s in pair]


def test_a_mapper_that_drops_an_image_is_an_error():
    with pytest.raises(DatasetError, match="no sample for"):
        TrainingStream(RECORDS, drop_everything, seed=0)[0]
