"""A resumed run trains on its config's optimizer settings and LR schedule.

detectron2 restores, with the checkpoint, the LR scheduler's base LRs and the optimizer's param
groups (LR, weight decay, momentum): a run resumed with a lower ``SOLVER.BASE_LR``, the remedy for
a diverging run, would go on at the old LR. Here the checkpoint gives the iteration and SGD's
momentum buffers, the config everything else: the LR of iteration i is the config's schedule at i.
With the config the checkpoint was written with, nothing changes (the resume stays exact).
"""
import logging

logger = logging.getLogger(__name__)

# Param-group entries that are the model's, not settings.
_NOT_SETTINGS = ("params",)
# How the log names an LR scheduler's per-group base LRs (the param groups' "initial_lr").
_BASE_LR = "initial_lr"


def optimizer_settings(optimizer):
    """Each param group's settings (LR, initial LR, weight decay, momentum...) as configured."""
    return [{key: value for key, value in group.items() if key not in _NOT_SETTINGS}
            for group in optimizer.param_groups]


def _distinct(values):
    return "/".join(f"{value:g}" if isinstance(value, float) else str(value)
                    for value in sorted(set(values), key=str))


def _differences(checkpoint_settings, configured):
    """'name: checkpoint's -> config's' for each setting (base LR first) that differs."""
    names = [_BASE_LR] + sorted({key for group in configured for key in group} - {_BASE_LR, "lr"})
    lines = []
    for name in names:
        old = [group.get(name) for group in checkpoint_settings]
        new = [group.get(name) for group in configured]
        if old != new:
            label = "base LR" if name == _BASE_LR else name
            lines.append(f"{label} {_distinct(old)} -> {_distinct(new)}")
    return lines


def follow_config_schedule(optimizer, scheduler, configured, start_iter):
    """After a checkpoint was loaded into ``optimizer`` and ``scheduler`` (detectron2's
    LRMultiplier): give the param groups back their ``configured`` settings
    (:func:`optimizer_settings` of the optimizer as built from the config), make the scheduler's
    base LRs the config's and set every group's LR to the schedule's value at ``start_iter``.
    Logs the settings that the config changes."""
    checkpoint_settings = optimizer_settings(optimizer)
    checkpoint_settings = [dict(group, initial_lr=base_lr)
                           for group, base_lr in zip(checkpoint_settings, scheduler.base_lrs)]
    for group, settings in zip(optimizer.param_groups, configured):
        group.update(settings)
    scheduler.base_lrs = [settings[_BASE_LR] for settings in configured]
    scheduler.last_epoch = start_iter
    for group, lr in zip(optimizer.param_groups, scheduler.get_lr()):
        group["lr"] = lr
    differences = _differences(checkpoint_settings, configured)
    if differences:
        logger.warning(
            f"Resuming at iteration {start_iter} with the config's optimizer settings, which "
            f"differ from the checkpoint's: {'; '.join(differences)}. The LR follows the "
            f"config's schedule: {_distinct(group['lr'] for group in optimizer.param_groups)} now."
        )
