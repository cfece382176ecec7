"""Stop training at the first sign of divergence, naming the iteration and what diverged.

Three signs, each stopping the run before that iteration's update (the weights of that iteration
are never computed, so no checkpoint can hold them):

* a NaN or Inf loss term;
* a loss term above ``GN_DET.MAX_LOSS``: a diverging run's losses grow for many iterations
  (to 1e14 and more) before they overflow, while normal detection losses stay around 0.1-10;
* detectron2's ``FloatingPointError`` for NaN or Inf RPN proposals ("Training has diverged"),
  raised inside the model's forward before any loss exists.

detectron2's SimpleTrainer notices a non-finite loss only after backward, on the main process, in
its metrics writer. Here a forward hook on the model checks every loss term as soon as the model
returns it. In a multi-process run the processes agree (one all-reduce of a count per iteration)
and all stop with the same message instead of leaving the others waiting in the next collective.
"""
import contextlib
import math

import torch
import torch.distributed as dist
from detectron2.utils import comm
from detectron2.utils.events import get_event_storage

from ..errors import ConfigError, GNDetError, NonFiniteError

# What detectron2's FloatingPointErrors for a diverged run say (proposal_utils.py).
DETECTRON2_DIVERGED = "Training has diverged"
# Kinds of divergence, in the order the message names them first.
NON_FINITE_LOSS = "Non-finite loss"
LOSS_ABOVE_BOUND = "Loss above GN_DET.MAX_LOSS"
NON_FINITE_PROPOSALS = "Non-finite RPN proposals"
_KINDS = (NON_FINITE_LOSS, LOSS_ABOVE_BOUND, NON_FINITE_PROPOSALS)
REMEDY = ("lower SOLVER.BASE_LR, lengthen SOLVER.WARMUP_ITERS or enable SOLVER.CLIP_GRADIENTS, "
          "then continue with --resume (the resumed run follows the config's LR schedule)")


class DivergenceError(NonFiniteError):
    """Training diverged (a NaN, Inf or exploding loss, or NaN RPN proposals); nothing of the
    diverged iteration was applied or saved."""


def _stop_together(problems, device):
    """Raise DivergenceError in every process when any process found ``problems`` (a list of
    (kind, description)); return when none did. Every process must call it once per iteration."""
    count = torch.tensor(len(problems), device=device)
    if comm.get_world_size() > 1:
        dist.all_reduce(count)
    if count.item() == 0:
        return
    per_rank = comm.all_gather(problems) if comm.get_world_size() > 1 else [problems]
    found = [(kind, text + (f" on rank {rank}" if len(per_rank) > 1 else ""))
             for rank, rank_problems in enumerate(per_rank) for kind, text in rank_problems]
    kinds = {kind for kind, _ in found}
    headline = next(kind for kind in _KINDS if kind in kinds)
    bound_hint = (" (or raise GN_DET.MAX_LOSS if losses that large are expected)"
                  if LOSS_ABOVE_BOUND in kinds else "")
    raise DivergenceError(
        f"{headline} at iteration {get_event_storage().iter}: "
        f"{', '.join(text for _, text in found)}. Training stopped before this iteration's "
        f"update, so the last checkpoint is the last good state; {REMEDY}{bound_hint}."
    )


def _loss_problems(losses, max_loss):
    values = torch.stack([loss.detach().float() for loss in losses.values()]).tolist()
    problems = []
    for name, value in zip(losses, values):
        if not math.isfinite(value):
            problems.append((NON_FINITE_LOSS, f"{name} = {value}"))
        elif value > max_loss:
            problems.append((LOSS_ABOVE_BOUND, f"{name} = {value:.4g} > GN_DET.MAX_LOSS = "
                                               f"{max_loss:g}"))
    return problems


def stop_on_diverging_losses(model, max_loss):
    """Make ``model``'s training forward raise :class:`DivergenceError` when a loss term is NaN,
    Inf or above ``max_loss``. Returns the hook's handle."""
    if not max_loss > 0:
        raise ConfigError(f"GN_DET.MAX_LOSS must be positive, got {max_loss}: it is the largest "
                          "loss term training accepts (default 1.0e4).")

    def check_losses(module, inputs, losses):
        if not module.training or not isinstance(losses, dict) or not losses:
            return
        device = next(iter(losses.values())).device
        _stop_together(_loss_problems(losses, max_loss), device)

    return model.register_forward_hook(check_losses)


@contextlib.contextmanager
def stop_on_diverged_predictions(device):
    """Turn detectron2's "Training has diverged" FloatingPointError, raised in the forward of the
    block, into :class:`DivergenceError` in every process (the others are in the loss check's
    all-reduce of that iteration). Other errors pass unchanged, tracebacks included."""
    try:
        yield
    except FloatingPointError as error:
        if isinstance(error, GNDetError) or DETECTRON2_DIVERGED not in str(error):
            raise
        _stop_together([(NON_FINITE_PROPOSALS, f"detectron2 says {str(error)!r}")], device)
