"""Placing weights whose names lack the model's prefixes (``res2.0.conv1.weight``).

Converted Caffe2 and torchvision names describe the ResNet and the heads, not where the model
nests them (``backbone.bottom_up.`` in an FPN model, ``backbone.`` and ``roi_heads.`` in a C4 one),
so a name is given to the model key that it ends (at a dot) - when exactly one key does.
"""
from collections import defaultdict


def _keys_by_dotted_suffix(model_keys):
    index = defaultdict(list)
    for key in model_keys:
        parts = key.split(".")
        for start in range(len(parts)):
            index[".".join(parts[start:])].append(key)
    return index


def rename_by_suffix(tensors, source_names, model_keys):
    """``tensors`` and ``source_names`` re-keyed by the model keys their names end.

    A name that ends no key, or several, keeps its name (it is reported as unexpected). When two
    names end the same key, the longer (more specific) one gets it.
    """
    index = _keys_by_dotted_suffix(model_keys)
    renamed_tensors, renamed_sources = {}, {}
    for name in sorted(tensors, key=len, reverse=True):
        candidates = index.get(name, [])
        target = candidates[0] if len(candidates) == 1 else name
        if target in renamed_tensors:
            target = name
        renamed_tensors[target] = tensors[name]
        renamed_sources[target] = source_names[name]
    return renamed_tensors, renamed_sources
