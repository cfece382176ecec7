"""Seeds derived from a run's seed, so that every random draw of training is a function of
(seed, what is being drawn for) and nothing else: not the process, not the data loader workers,
not what ran before in the same process.

:func:`derive_seed` hashes the run's seed with a purpose tag and integers (an epoch, a sample's
position in the training stream, an iteration and a rank) through numpy's SeedSequence, so the
seeds of different purposes and keys are independent.
"""
import contextlib
import random

import numpy as np
import torch

# Purpose tags: seeds drawn for different things never coincide.
EPOCH_ORDER = 0
SAMPLE = 1
STEP = 2


def derive_seed(seed, purpose, *keys):
    """A 32-bit seed that depends on ``seed``, ``purpose`` and ``keys`` (non-negative ints)."""
    return int(np.random.SeedSequence([seed, purpose, *keys]).generate_state(1)[0])


def seed_all_rngs(seed):
    """Seed Python's, numpy's and torch's global generators (torch: every device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded_rngs(seed):
    """Run a block with Python's, numpy's and torch's CPU generators seeded by ``seed``, then
    restore their previous states: the block's draws do not disturb the caller's."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed)
        torch.default_generator.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
