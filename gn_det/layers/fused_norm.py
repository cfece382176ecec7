"""GroupNorm fused with the residual add and ReLU that follow it, for inference.

``group_norm_act(x, norm, residual, relu)`` is ``relu(norm(x) + residual)``. Where nothing needs
``x`` afterwards (no autograd graph records it) and the tensor is not small, it runs two compiled
kernels instead of eager's GroupNorm + add + ReLU: one reads ``x`` once, in memory order, into a
per-(sample, channel) scale and shift; one applies ``x * scale + shift (+ residual)``, ReLU, in
place. Two passes over ``x`` and no new activation-sized tensor, against eager's four passes
(GroupNorm reads ``x`` twice and writes a new tensor; the add and the ReLU each read and write it).

Everything else (training, small tensors, no compiler) runs the eager ops detectron2 runs. The
kernels are ``torch.compile``'d on first use, logged with the time it took (seconds per memory
layout and dtype; torch's on-disk inductor cache makes later processes faster); if compiling fails
(e.g. no C++ compiler on the CPU), one warning says so and eager is used from then on.
"""
import logging
import time
import warnings

import torch
import torch.nn.functional as F

# On the CPU, below this eager GroupNorm is as fast (a compiled call costs ~0.1 ms of guards and
# launches). Measured on 2 cores, channels-last, GN + ReLU, eager vs compiled (ms): 0.2 MiB 0.03 vs
# 0.11, 0.8 MiB 0.08 vs 0.09, 3.3 MiB 0.15 vs 0.15, 13 MiB 0.85 vs 0.44, 52 MiB 7.1 vs 4.8; the
# box head's 1000 RoIs x 256 x 7 x 7 9.6 vs 6.3.
CPU_MIN_COMPILED_BYTES = 2**20

logger = logging.getLogger(__name__)

# Process-wide: whether compiling failed once (then eager from then on), time spent compiling, and
# the (device, layout, dtype) the kernels were compiled for.
_state = {"failed": False, "compile_seconds": 0.0, "compiled_for": set()}


def compile_failed():
    """True when compiling the kernels failed in this process (eager is used instead)."""
    return _state["failed"]


def compile_seconds():
    """Seconds spent in kernel calls that compiled something (first uses of a kernel/layout)."""
    return _state["compile_seconds"]


def _combine(mean, var, dim):
    # Mean and variance of the union of equal-sized parts: exact (law of total variance).
    total_mean = mean.mean(dim, keepdim=True)
    total_var = var.mean(dim, keepdim=True) + (mean - total_mean).square().mean(dim, keepdim=True)
    return total_mean, total_var


def group_norm_scale_shift(x, num_groups: int, weight, bias, eps: float):
    """Per-(sample, channel) ``scale``, ``shift`` (N, C, 1, 1) with GroupNorm(x) = x * scale + shift.

    One pass over ``x`` in memory order (channels-last: along rows, then over rows) sums
    ``x - k`` and its square per (sample, channel), in float32 at least (a float16 sum of squares
    overflows). ``k``, the mean of the channel's first row, is at most sqrt(H) standard deviations
    from the mean, so the sum of squares does not cancel away where the mean is far from 0 or one
    value stands out; its index is constant, so the compiled kernel does not specialize on H.
    Channels are then combined exactly per group.
    """
    n, c, h, w = x.shape
    dtype = torch.promote_types(x.dtype, torch.float32)
    k = x[:, :, 0, :].to(dtype).mean(2)  # (N, C)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        # (N, H, W, C): a view in memory order.
        shifted = x.permute(0, 2, 3, 1).to(dtype) - k[:, None, None, :]
        total, total_square = shifted.sum(2).sum(1), shifted.square().sum(2).sum(1)  # (N, C)
    else:
        shifted = x.reshape(n, c, h * w).to(dtype) - k[:, :, None]
        total, total_square = shifted.sum(2), shifted.square().sum(2)  # (N, C)
    shifted_mean = total / (h * w)
    var = (total_square / (h * w) - shifted_mean.square()).clamp_min(0)
    mean = k + shifted_mean
    mean, var = _combine(mean.reshape(n, num_groups, -1), var.reshape(n, num_groups, -1), 2)
    scale = weight.reshape(1, num_groups, -1) * (var + eps).rsqrt()
    shift = bias.reshape(1, num_groups, -1) - mean * scale
    return scale.reshape(n, c, 1, 1), shift.reshape(n, c, 1, 1)


# One function per variant, so each compiled function has one graph per layout and dtype.
def _scale_shift_(x, scale, shift):
    return x.mul_(scale).add_(shift)


def _scale_shift_relu_(x, scale, shift):
    return x.mul_(scale).add_(shift).relu_()


def _scale_shift_add_relu_(x, scale, shift, residual):
    return x.mul_(scale).add_(shift).add_(residual).relu_()


_EAGER = {
    "scale_shift": group_norm_scale_shift,
    (False, False): _scale_shift_,
    (False, True): _scale_shift_relu_,
    (True, True): _scale_shift_add_relu_,
}
_compiled = {}


def _kernel(name):
    if name not in _compiled:
        # dynamic=True: one kernel for every shape (layers, image sizes, RoI counts).
        _compiled[name] = torch.compile(_EAGER[name], dynamic=True)
    return _compiled[name]


def _graphs_compiled():
    try:
        import torch._dynamo.utils

        return torch._dynamo.utils.counters["stats"]["unique_graphs"]
    except (ImportError, AttributeError, KeyError):  # only for reporting compile time
        return 0


def _layout(x):
    return "channels-last" if x.is_contiguous(memory_format=torch.channels_last) else "contiguous"


def _inductor_cache_dir():
    try:
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        return cache_dir()
    except (ImportError, AttributeError):  # only for the log line
        return "torch's inductor cache"


def _run_compiled(x, norm, residual, relu):
    target = (x.device.type, _layout(x), str(x.dtype).replace("torch.", ""))
    first_use = target not in _state["compiled_for"]
    if first_use:  # compiling takes seconds: say so before, not after
        logger.info("gn_det fast path: torch.compile of the fused GroupNorm kernels for %s %s %s "
                    "tensors (once per process; cached in %s)...", *target, _inductor_cache_dir())
    compiled_before = _graphs_compiled()
    start = time.perf_counter()
    # Detached: compiled code specializes on a Parameter's shape and requires_grad, which would
    # recompile it for every channel count and frozen stage.
    scale, shift = _kernel("scale_shift")(x, norm.num_groups, norm.weight.detach(),
                                          norm.bias.detach(), norm.eps)
    apply = _kernel((residual is not None, relu))
    out = apply(x, scale, shift, residual) if residual is not None else apply(x, scale, shift)
    seconds = time.perf_counter() - start
    if _graphs_compiled() != compiled_before:
        _state["compile_seconds"] += seconds
        logger.info("gn_det fast path: compiled a fused GroupNorm kernel for %s %s %s tensors in "
                    "%.1f s.", *target, seconds)
    _state["compiled_for"].add(target)
    return out


def _worth_compiling(x, norm, residual, relu):
    if residual is not None and not relu:
        return False  # no caller needs it; eager
    if x.dim() != 4 or x.numel() == 0 or x.dtype != norm.weight.dtype:
        return False  # dtype: e.g. autocast, where eager GroupNorm returns float32 for float16
    return x.device.type != "cpu" or x.numel() * x.element_size() >= CPU_MIN_COMPILED_BYTES


def _records_autograd(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def group_norm_act(x, norm, residual=None, relu=False, compile=True):
    """``relu(norm(x) + residual)``, each of ``residual`` and ``relu`` optional.

    ``norm`` is an ``nn.GroupNorm``. ``x`` may be overwritten: pass a tensor nothing else uses
    (the output of the conv before the norm). ``compile=False``: eager ops only.
    """
    if (compile and not _state["failed"] and _worth_compiling(x, norm, residual, relu)
            and not _records_autograd(x, norm.weight, norm.bias, residual)):
        try:
            return _run_compiled(x, norm, residual, relu)
        except Exception as error:  # noqa: BLE001  (any compiler failure: fall back, say why)
            _state["failed"] = True
            # torch._dynamo wraps the compiler's error (e.g. InvalidCxxCompiler): name that one.
            error = getattr(error, "inner_exception", None) or error
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            warnings.warn(f"gn_det fast path: compiling the fused GroupNorm kernels failed "
                          f"({reason}); using eager GroupNorm from now on.", RuntimeWarning)
    out = F.group_norm(x, norm.num_groups, norm.weight, norm.bias, norm.eps)
    if residual is not None:
        out += residual
    return F.relu_(out) if relu else out
