"""How much of a model a weight file initializes, per module group, and the strict check.

fvcore loads with ``strict=False`` and only logs the keys it skipped, so a wrong mapping quietly
trains from random init. :class:`CoverageReport` counts, per group of modules, the model's
tensors that were loaded, missing, or shape-mismatched, and the file's entries that match nothing;
:func:`require_backbone_loaded` turns an incomplete ResNet into a :class:`BackboneWeightsError`.
"""
import re
from collections import defaultdict
from dataclasses import dataclass, field

from tabulate import tabulate

from ..errors import GNDetError

GROUPS = ("stem", "res2", "res3", "res4", "res5", "FPN", "RPN", "box head", "mask head", "other")
# The pretrained ResNet, wherever the model puts it (backbone.bottom_up, backbone, roi_heads.res5).
RESNET_GROUPS = ("stem", "res2", "res3", "res4", "res5")

_GROUP_PATTERNS = (
    ("stem", re.compile(r"(^|\.)stem\.")),
    (None, re.compile(r"(^|\.)(?P<stage>res[2-5])\.\d+\.")),
    ("FPN", re.compile(r"(^|\.)fpn_")),
    ("RPN", re.compile(r"(^|\.)(proposal_generator|rpn_head)\.")),
    ("box head", re.compile(r"(^|\.)(box_head|box_predictor|cls_score|bbox_pred)\.")),
    ("mask head", re.compile(r"(^|\.)mask_head\.")),
)
_COLUMNS = ("loaded", "missing", "shape mismatch", "unexpected")
# Names listed per group in the text; the rest is counted.
_MAX_LISTED = 12


def module_group(name):
    """The group of GROUPS that a state-dict name (model or converted file name) belongs to."""
    for group, pattern in _GROUP_PATTERNS:
        match = pattern.search(name)
        if match:
            return group or match["stage"]
    return "other"


@dataclass(frozen=True)
class ShapeMismatch:
    key: str
    source_name: str
    file_shape: tuple[int, ...]
    model_shape: tuple[int, ...]


@dataclass
class CoverageReport:
    """The outcome of matching a weight file against a model's state dict."""

    source: str
    format: str
    model_keys: list[str]
    loaded: list[str]
    missing: list[str]
    mismatched: list[ShapeMismatch]
    # Converted names of the file's entries that match no model key.
    unexpected: list[str]
    source_names: dict[str, str]
    ignored: dict[str, str]
    # Likely causes of what did not load, or of conventions the model breaks (see diagnosis.py).
    hints: list[str] = field(default_factory=list)

    def group_counts(self):
        """{group: {"in model" / column: count}} for the groups the model or the file has."""
        counts = defaultdict(lambda: dict.fromkeys(("in model",) + _COLUMNS, 0))
        for key in self.model_keys:
            counts[module_group(key)]["in model"] += 1
        for column, keys in (("loaded", self.loaded), ("missing", self.missing),
                             ("shape mismatch", [m.key for m in self.mismatched]),
                             ("unexpected", self.unexpected)):
            for key in keys:
                counts[module_group(key)][column] += 1
        return {group: counts[group] for group in GROUPS if group in counts}

    def table(self):
        counts = self.group_counts()
        rows = [[group, *row.values()] for group, row in counts.items()]
        rows.append(["total", *(sum(row[column] for row in counts.values())
                                for column in ("in model",) + _COLUMNS)])
        return tabulate(rows, headers=["group", "in model", *_COLUMNS], tablefmt="pipe")

    def unloaded_resnet_keys(self):
        """ResNet tensors of the model (RESNET_GROUPS) that keep their initialization."""
        unloaded = set(self.missing) | {mismatch.key for mismatch in self.mismatched}
        return [key for key in self.model_keys
                if key in unloaded and module_group(key) in RESNET_GROUPS]

    def describe(self, key):
        """One line on why the model's tensor ``key`` was not loaded."""
        for mismatch in self.mismatched:
            if mismatch.key == key:
                return (f"{key}: shape {mismatch.file_shape} in the file ({mismatch.source_name}), "
                        f"{mismatch.model_shape} in the model")
        return f"{key}: not in the file"

    def summary(self):
        total = len(self.model_keys)
        share = 100.0 * len(self.loaded) / total if total else 0.0
        return (f"Weights coverage of {self.source} ({self.format}): {len(self.loaded)} of {total} "
                f"model tensors loaded ({share:.1f}%).")

    def __str__(self):
        sections = [self.summary(), self.table(), self._missing_text(), self._mismatched_text(),
                    self._unexpected_text(), self._ignored_text()]
        if self.hints:
            sections.append("\n".join(["Likely causes:"] + [f"  {hint}" for hint in self.hints]))
        return "\n".join(section for section in sections if section)

    def _missing_text(self):
        by_group = _by_group(self.missing)
        counts = self.group_counts()
        lines = []
        for group, keys in by_group.items():
            if len(keys) == counts[group]["in model"]:
                lines.append(f"  {group}: all {len(keys)}")
            else:
                lines.append(f"  {group}: {_listed(keys)}")
        return "\n".join(["Not in the file (left at initialization):"] + lines) if lines else ""

    def _mismatched_text(self):
        lines = [f"  {self.describe(mismatch.key)}" for mismatch in self.mismatched]
        return "\n".join(["Shape mismatch (not loaded):"] + lines) if lines else ""

    def _unexpected_text(self):
        lines = []
        for group, keys in _by_group(self.unexpected).items():
            named = [_with_source(key, self.source_names[key]) for key in keys]
            lines.append(f"  {group}: {_listed(named)}")
        return "\n".join(["In the file but not in the model:"] + lines) if lines else ""

    def _ignored_text(self):
        by_reason = defaultdict(list)
        for name, reason in sorted(self.ignored.items()):
            by_reason[reason].append(name)
        lines = [f"  {reason}: {_listed(names, max_listed=4)}"
                 for reason, names in by_reason.items()]
        return "\n".join(["Ignored entries of the file:"] + lines) if lines else ""


def _by_group(keys):
    grouped = defaultdict(list)
    for key in keys:
        grouped[module_group(key)].append(key)
    return {group: grouped[group] for group in GROUPS if group in grouped}


def _listed(names, max_listed=_MAX_LISTED):
    shown = ", ".join(names[:max_listed])
    rest = len(names) - max_listed
    return f"{shown} ... and {rest} more ({len(names)} in all)" if rest > 0 else shown


def _with_source(key, source_name):
    return key if key == source_name else f"{source_name} (as {key})"


def measure_coverage(model_state_dict, converted, source):
    """:class:`CoverageReport` of loading ``converted`` (:class:`ConvertedWeights`) into a model."""
    loaded, missing, mismatched = [], [], []
    for key, value in model_state_dict.items():
        if key not in converted.tensors:
            missing.append(key)
            continue
        file_shape = tuple(converted.tensors[key].shape)
        if file_shape != tuple(value.shape):
            mismatched.append(ShapeMismatch(key, converted.source_names[key], file_shape,
                                            tuple(value.shape)))
        else:
            loaded.append(key)
    return CoverageReport(
        source=source,
        format=converted.format,
        model_keys=list(model_state_dict),
        loaded=loaded,
        missing=missing,
        mismatched=mismatched,
        unexpected=sorted(key for key in converted.tensors if key not in model_state_dict),
        source_names=converted.source_names,
        ignored=converted.ignored,
    )


class BackboneWeightsError(GNDetError, RuntimeError):
    """Strict loading found a weight file that does not fit the model's ResNet exactly."""


def require_backbone_loaded(report):
    """Raise :class:`BackboneWeightsError` unless the file initializes exactly the model's ResNet.

    Refused: a ResNet tensor of the model that the file does not load, and a ResNet entry of the
    file that matches no tensor (a deeper ResNet, say). The ResNet (stem, res2-res5; in C4 models
    also the res5 RoI head) is what pretrained weights are for; FPN, RPN and heads are new layers
    when fine-tuning from ImageNet, so they are not required.
    """
    unloaded = report.unloaded_resnet_keys()
    extra = [key for key in report.unexpected if module_group(key) in RESNET_GROUPS]
    if not unloaded and not extra:
        return
    problems = []
    if unloaded:
        problems.append(f"{len(unloaded)} ResNet tensors of the model would keep their random "
                        "initialization")
    if extra:
        problems.append(f"{len(extra)} ResNet entries of the file match no model tensor")
    lines = [f"Strict backbone loading refuses {report.source} ({report.format}): "
             + " and ".join(problems) + "."]
    lines += [f"  {report.describe(key)}" for key in unloaded[:_MAX_LISTED]]
    if len(unloaded) > _MAX_LISTED:
        lines.append(f"  ... and {len(unloaded) - _MAX_LISTED} more")
    if report.unexpected:
        unexpected = [_with_source(key, report.source_names[key]) for key in report.unexpected]
        lines.append("Entries of the file that match no model tensor: " + _listed(unexpected))
    lines += [f"Likely cause: {hint}" for hint in report.hints]
    raise BackboneWeightsError("\n".join(lines))
