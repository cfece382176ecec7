"""Stop training at the first NaN or Inf loss, naming the iteration and the loss term.

detectron2's SimpleTrainer notices a non-finite loss only after backward, on the main process, in
its metrics writer. Here a forward hook on the model checks every loss term as soon as the model
returns it, before backward and the optimizer step: the weights of that iteration are never
computed, so no checkpoint can hold them. In a multi-process run the processes agree (one
all-reduce of a count per iteration) and all stop with the same message instead of leaving the
others waiting in the next collective.
"""
import math

import torch
import torch.distributed as dist
from detectron2.utils import comm
from detectron2.utils.events import get_event_storage

from ..errors import NonFiniteError


def _check_losses(module, inputs, losses):
    if not module.training or not isinstance(losses, dict) or not losses:
        return
    values = torch.stack([loss.detach().float() for loss in losses.values()])
    non_finite = (~torch.isfinite(values)).sum()
    if comm.get_world_size() > 1:
        dist.all_reduce(non_finite)
    if non_finite.item() == 0:
        return
    bad = {name: value for name, value in zip(losses, values.tolist()) if not math.isfinite(value)}
    per_rank = comm.all_gather(bad) if comm.get_world_size() > 1 else [bad]
    terms = ", ".join(f"{name} = {value}" + (f" on rank {rank}" if len(per_rank) > 1 else "")
                      for rank, found in enumerate(per_rank) for name, value in found.items())
    raise NonFiniteError(
        f"Non-finite loss at iteration {get_event_storage().iter}: {terms}. Training stopped "
        "before this iteration's update, so the last checkpoint is the last good state; lower "
        "SOLVER.BASE_LR, lengthen SOLVER.WARMUP_ITERS or enable SOLVER.CLIP_GRADIENTS, then "
        "continue with --resume."
    )


def stop_on_non_finite_losses(model):
    """Make ``model``'s training forward raise :class:`NonFiniteError` when a loss term is NaN or
    Inf. Returns the hook's handle."""
    return model.register_forward_hook(_check_losses)
