"""Likely causes of an incomplete or silently wrong load, as hints for the coverage report.

* wrong depth: the file's ResNet has other block counts per stage than the model's;
* wrong norm: BN statistics in the file for GN layers, GN weights (no statistics) for BN layers,
  or Detectron's affine-BN blobs (``_bn_s``) loaded into GroupNorm layers;
* wrong conventions: the format's stride placement (STRIDE_IN_1X1), channel order or pixel
  statistics differ from the model's. No shape shows these, so they are checked on the model;
* unknown format: nothing of the file matched.
"""
import re
from collections import defaultdict

from torch import nn

# Blocks in res2..res5 of the bottleneck ResNets.
_DEPTH_OF_BLOCKS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}
_BLOCK = re.compile(r"(^|\.)res(?P<stage>[2-5])\.(?P<block>\d+)\.")
_STAGES = (2, 3, 4, 5)


def likely_causes(report, model, conventions):
    """Hints (strings) on what went wrong when ``report`` came from loading into ``model``."""
    hints = [_unknown_format(report), _wrong_depth(report), _statistics_for_gn(report),
             _no_statistics_for_bn(report), _affine_bn_in_gn(report, model),
             _broken_conventions(report, model, conventions)]
    return [hint for hint in hints if hint]


def _unknown_format(report):
    file_keys = report.unexpected + [mismatch.key for mismatch in report.mismatched]
    if report.loaded or not file_keys:
        return None
    examples = ", ".join(sorted(report.source_names[key] for key in file_keys)[:3])
    return (f"none of the file's {len(file_keys)} entries matched the model (e.g. {examples}): the "
            "file is in an unsupported format or for another architecture.")


def _blocks_per_stage(names):
    blocks = defaultdict(set)
    for name in names:
        match = _BLOCK.search(name)
        if match:
            blocks[int(match["stage"])].add(int(match["block"]))
    return {stage: len(found) for stage, found in blocks.items()}


def _depth_text(blocks):
    counts = tuple(blocks.get(stage, 0) for stage in _STAGES)
    depth = _DEPTH_OF_BLOCKS.get(counts)
    return f"{counts}" + (f" (ResNet-{depth})" if depth else "")


def _wrong_depth(report):
    file_keys = report.loaded + [mismatch.key for mismatch in report.mismatched] + report.unexpected
    in_file = _blocks_per_stage(file_keys)
    in_model = _blocks_per_stage(report.model_keys)
    if not in_file or all(in_file[stage] == in_model.get(stage) for stage in in_file):
        return None
    depth = _DEPTH_OF_BLOCKS.get(tuple(in_file.get(stage, 0) for stage in _STAGES))
    advice = f"set MODEL.RESNETS.DEPTH {depth}" if depth else "use a model of the file's depth"
    return (f"wrong depth: the file's ResNet has {_depth_text(in_file)} blocks in res2-res5, the "
            f"model {_depth_text(in_model)}; {advice}.")


def _names_a_model_key(name, model_keys):
    """Whether ``name`` is a model key or, as converted names are, a dotted suffix of one."""
    return any(key == name or key.endswith("." + name) for key in model_keys)


def _statistics_for_gn(report):
    statistics = [key for key in report.unexpected if key.endswith(".running_mean")
                  and _names_a_model_key(key[: -len("running_mean")] + "weight", report.model_keys)]
    if not statistics:
        return None
    example = report.source_names[statistics[0]]
    return (f"wrong norm: the file has BatchNorm statistics (e.g. {example}) for layers without "
            "them in the model (GN): these are BN weights. Use GN weights, or build the model "
            "with the file's norm (e.g. MODEL.RESNETS.NORM FrozenBN).")


def _no_statistics_for_bn(report):
    loaded = set(report.loaded)
    lacking = [key for key in report.missing if key.endswith(".running_mean")
               and key[: -len("running_mean")] + "weight" in loaded]
    if not lacking:
        return None
    return (f"wrong norm: the model's {lacking[0][: -len('.running_mean')]} keeps BatchNorm "
            "statistics that the file lacks (GN weights have none). Build the model with GN "
            "(MODEL.RESNETS.NORM GN, and FPN/ROI_BOX_HEAD/ROI_MASK_HEAD NORM GN for detection "
            "files).")


def _affine_bn_in_gn(report, model):
    modules = dict(model.named_modules())
    into_gn = [key for key in report.loaded if report.source_names[key].endswith("_bn_s")
               and isinstance(modules.get(key[: -len(".weight")]), nn.GroupNorm)]
    if not into_gn:
        return None
    return (f"wrong norm: Detectron BN blobs (e.g. {report.source_names[into_gn[0]]}) were loaded "
            f"into GroupNorm layers ({len(into_gn)} of them): the file is a BN model, not a GN "
            "one.")


def _stride_in_1x1(model):
    """Whether the model's bottlenecks stride in their 1x1 conv; None without bottlenecks."""
    modules = dict(model.named_modules())
    for name, module in modules.items():
        if re.search(r"(^|\.)res3\.0\.conv1$", name) and name[: -len("1")] + "3" in modules:
            return tuple(module.stride) != (1, 1)
    return None


def _buffer_values(model, name):
    buffer = getattr(model, name, None)
    return None if buffer is None else tuple(buffer.flatten().tolist())


def _broken_conventions(report, model, conventions):
    differences = conventions.differences(
        stride_in_1x1=_stride_in_1x1(model),
        input_format=getattr(model, "input_format", None),
        pixel_mean=_buffer_values(model, "pixel_mean"),
        pixel_std=_buffer_values(model, "pixel_std"),
    )
    if not differences:
        return None
    return (f"{report.format} weights expect {'; '.join(differences)}. No shape shows this: the "
            "weights load but compute wrong features.")
