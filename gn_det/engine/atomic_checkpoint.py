"""Checkpoints that survive the process being killed while they are written.

fvcore's ``Checkpointer.save`` writes a checkpoint under its final name, then rewrites
``last_checkpoint`` in place. A kill meanwhile (pre-emption, the OOM killer) leaves a truncated
checkpoint file or an empty ``last_checkpoint``; and when a finished run is resumed with a longer
schedule, it rewrites ``model_final.pth``, the very file ``last_checkpoint`` names, so a kill then
loses the run.

:class:`AtomicSaveMixin` writes every file under a temporary name, forces it to disk, and renames
it over the final name (atomic on POSIX file systems): the checkpoint first, then
``last_checkpoint``. At every instant ``last_checkpoint`` names a complete checkpoint. It also
refuses to save weights that are NaN or Inf, so a diverged run cannot replace its last good
checkpoint.
"""
import contextlib
import glob
import os

import torch

from ..errors import NonFiniteError

# Suffix of a file being written; such a file is complete only once renamed.
TEMPORARY_SUFFIX = ".tmp"
LAST_CHECKPOINT = "last_checkpoint"


def _fsync_directory(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path, write):
    """Call ``write(binary_file)`` on a temporary file, force it to disk and rename it to ``path``:
    ``path`` holds either its previous content or the complete new one, even after a crash."""
    temporary = path + TEMPORARY_SUFFIX
    try:
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    # The rename itself must reach the disk too, or a power loss could undo it.
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def require_finite_weights(state_dict, checkpoint_name):
    """Raise NonFiniteError naming the first floating-point tensor with a NaN or Inf."""
    for key, value in state_dict.items():
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all():
            raise NonFiniteError(
                f"Not saving checkpoint {checkpoint_name}: model weight {key} holds NaN or Inf "
                "values (training diverged). The previous checkpoint and last_checkpoint are kept; "
                "lower SOLVER.BASE_LR or enable SOLVER.CLIP_GRADIENTS, then continue with --resume."
            )


class AtomicSaveMixin:
    """For fvcore/detectron2 checkpointers: atomic :meth:`save` and ``last_checkpoint`` (see the
    module docstring), and no checkpoint of non-finite weights. List it first among the bases:
    ``class C(AtomicSaveMixin, DetectionCheckpointer)``."""

    def save(self, name, **kwargs):
        """Same as fvcore's ``Checkpointer.save``, written atomically."""
        if not self.save_dir or not self.save_to_disk:
            return
        basename = f"{name}.pth"
        data = {"model": self.model.state_dict()}
        require_finite_weights(data["model"], basename)
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        self._remove_interrupted_saves()
        path = os.path.join(self.save_dir, basename)
        self.logger.info(f"Saving checkpoint to {path}")
        write_atomically(path, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename):
        """Point ``last_checkpoint`` at ``last_filename_basename``, atomically."""
        write_atomically(os.path.join(self.save_dir, LAST_CHECKPOINT),
                         lambda f: f.write(last_filename_basename.encode("utf-8")))

    def _remove_interrupted_saves(self):
        for pattern in ("*.pth" + TEMPORARY_SUFFIX, LAST_CHECKPOINT + TEMPORARY_SUFFIX):
            for path in glob.glob(os.path.join(glob.escape(self.save_dir), pattern)):
                self.logger.info(f"Removing {path}, left by a save that was interrupted")
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
