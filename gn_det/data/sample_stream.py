"""The training data as an endless stream whose every sample is a function of (seed, position).

Position ``p`` of the stream is the image at offset ``p mod N`` of epoch ``p // N``'s order (a
permutation of the N training images seeded by (seed, epoch)), mapped (read and augmented) with
random generators seeded by (seed, p). So a sample does not depend on the number of data loader
workers, on the process that reads it, or on what was read before.

Iteration ``i`` of a run with ``SOLVER.IMS_PER_BATCH`` B trains on positions ``[i*B, (i+1)*B)``:
process ``r`` of ``W`` reads positions ``i*B + r``, ``i*B + r + W``, ... Resuming at iteration ``i``
needs only ``i``, B and the seed (the trainer keeps the seed in its checkpoints), so a resumed run
reads exactly the data an uninterrupted run would have read, with any number of workers, and even
with another number of processes.

One approximation: with ``DATALOADER.ASPECT_RATIO_GROUPING`` (detectron2's default) a process
batches landscape and portrait images separately, and images still waiting for a batch of their
shape when a checkpoint is written are not replayed on resume (as many later images are read twice
in that epoch; fewer than one batch per process). Datasets whose images all have one shape resume
exactly.
"""
import itertools
import logging

import numpy as np
import torch
import torch.utils.data as torchdata
from detectron2.data.common import AspectRatioGroupedDataset, DatasetFromList
from detectron2.utils import comm

from ..errors import DatasetError
from ..seeding import EPOCH_ORDER, SAMPLE, derive_seed, seeded_rngs

logger = logging.getLogger(__name__)


def epoch_order(seed, epoch, size):
    """The order in which epoch ``epoch`` visits the ``size`` images: a seeded permutation."""
    return np.random.default_rng(derive_seed(seed, EPOCH_ORDER, epoch)).permutation(size)


class TrainingStream:
    """Position -> mapped training sample, for every position >= 0.

    Args:
        records: detectron2 dataset dicts (kept serialized, as detectron2's loaders do, so data
            loader workers share their memory pages).
        mapper: detectron2 dataset mapper (e.g. ``DatasetMapper(cfg, is_train=True)``).
        seed: the run's seed.
    """

    def __init__(self, records, mapper, seed):
        self._records = DatasetFromList(records, copy=False)
        self._mapper = mapper
        self.seed = seed
        self._cached_epoch, self._cached_order = None, None

    def __len__(self):
        return len(self._records)

    def record_index(self, position):
        """Index (into the records) of the image at ``position``."""
        epoch, offset = divmod(position, len(self._records))
        if epoch != self._cached_epoch:
            self._cached_epoch = epoch
            self._cached_order = epoch_order(self.seed, epoch, len(self._records))
        return int(self._cached_order[offset])

    def __getitem__(self, position):
        record = self._records[self.record_index(position)]
        with seeded_rngs(derive_seed(self.seed, SAMPLE, position)):
            sample = self._mapper(record)
        if sample is None:
            raise DatasetError(f"The dataset mapper returned no sample for {record['file_name']}; "
                               "gn_det's training stream needs a sample for every image.")
        return sample


class _ProcessShard(torchdata.IterableDataset):
    """The positions one process reads from ``start`` on, split between data loader workers:
    worker ``w`` of ``n`` reads every ``n``-th of them, and the loader returns them in order."""

    def __init__(self, stream, start, rank, world_size):
        self.stream, self.start, self.rank, self.world_size = stream, start, rank, world_size

    def __iter__(self):
        worker = torchdata.get_worker_info()
        index, count = (worker.id, worker.num_workers) if worker else (0, 1)
        first = self.start + self.rank + index * self.world_size
        for position in itertools.count(first, self.world_size * count):
            yield self.stream[position]


def _batches(items, batch_size):
    items = iter(items)
    while True:
        yield [next(items) for _ in range(batch_size)]


class ResumableTrainLoader:
    """Batches of this process's share of a :class:`TrainingStream`, from iteration
    :attr:`start_iteration` on.

    Iterating it returns a generator: nothing is read (and no worker started) until the first
    batch is asked for, so the trainer can call :meth:`start_at` after loading a checkpoint even
    though detectron2's SimpleTrainer calls ``iter()`` on its data loader when it is built.
    """

    def __init__(self, stream, total_batch_size, *, aspect_ratio_grouping, num_workers):
        self.stream = stream
        self.total_batch_size = total_batch_size
        self.aspect_ratio_grouping = aspect_ratio_grouping
        self.num_workers = num_workers
        self.start_iteration = 0

    def start_at(self, iteration):
        """Make the next iteration over the loader start with the batches of ``iteration``."""
        self.start_iteration = iteration

    def __iter__(self):
        rank, world_size = comm.get_rank(), comm.get_world_size()
        start = self.start_iteration * self.total_batch_size
        logger.info(f"Training stream: {len(self.stream)} images, seed {self.stream.seed}; "
                    f"rank {rank} of {world_size} reads positions {start + rank}, "
                    f"{start + rank + world_size}, ... (iteration {self.start_iteration} on)")
        shard = _ProcessShard(self.stream, start, rank, world_size)
        # batch_size None: the workers return single samples, batched here in stream order. Its
        # own generator: creating the loader must not draw from the trainer's seeded generator.
        items = torchdata.DataLoader(shard, batch_size=None, num_workers=self.num_workers,
                                     generator=torch.Generator())
        batch_size = self.total_batch_size // world_size
        if self.aspect_ratio_grouping:
            yield from AspectRatioGroupedDataset(items, batch_size)
        else:
            yield from _batches(items, batch_size)
