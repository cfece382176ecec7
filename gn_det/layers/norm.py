"""The one norm factory every gn_det component uses.

detectron2 chooses a component's norm by a string (``MODEL.RESNETS.NORM``, ``MODEL.FPN.NORM``,
``MODEL.ROI_BOX_HEAD.NORM``, ``MODEL.ROI_MASK_HEAD.NORM``) and its "GN" entry hard-codes 32 groups.
:func:`norm_from_config` turns such a key into what detectron2's ``get_norm`` accepts: the string
itself for the batch norms, and for "GN" a :class:`GroupNormFactory` configured by
``cfg.MODEL.GN`` (number of groups or channels per group, epsilon). LN is GN with one group, IN is GN
with one channel per group.
"""
from dataclasses import dataclass

from torch import nn

from ..config import require_gn_config

# Norm names detectron2's get_norm understands ("" means no norm).
KNOWN_NORMS = ("", "BN", "SyncBN", "FrozenBN", "GN", "nnSyncBN", "naiveSyncBN")


@dataclass(frozen=True)
class GroupNormSpec:
    """How "GN" layers split their channels: into ``num_groups`` groups, or groups of
    ``dim_per_group`` channels. Exactly one of the two is positive."""

    num_groups: int = 32
    dim_per_group: int = -1
    eps: float = 1e-5
    # How errors name the two settings: the YAML keys here, the config fields in gn_det.lazy.
    num_groups_key = "MODEL.GN.NUM_GROUPS"
    dim_per_group_key = "MODEL.GN.DIM_PER_GROUP"

    @classmethod
    def from_config(cls, cfg):
        spec = cls(cfg.MODEL.GN.NUM_GROUPS, cfg.MODEL.GN.DIM_PER_GROUP, cfg.MODEL.GN.EPSILON)
        if (spec.num_groups > 0) == (spec.dim_per_group > 0):
            raise ValueError(
                f"Exactly one of MODEL.GN.NUM_GROUPS ({spec.num_groups}) and MODEL.GN.DIM_PER_GROUP "
                f"({spec.dim_per_group}) must be positive; set the other to -1."
            )
        if spec.eps <= 0:
            raise ValueError(f"MODEL.GN.EPSILON must be positive, got {spec.eps}.")
        return spec

    def groups_for(self, channels, layer):
        """Number of groups for a layer with ``channels`` channels; ``layer`` names it in errors."""
        if self.dim_per_group > 0:
            if channels % self.dim_per_group:
                raise ValueError(
                    f"GroupNorm in {layer}: {self.dim_per_group_key}={self.dim_per_group} does "
                    f"not divide its {channels} channels. Set {self.dim_per_group_key} to a "
                    f"divisor of {channels}."
                )
            return channels // self.dim_per_group
        if channels % self.num_groups:
            raise ValueError(
                f"GroupNorm in {layer}: {self.num_groups_key}={self.num_groups} does not divide "
                f"its {channels} channels. Set {self.num_groups_key} to a divisor of {channels}, "
                f"or use {self.dim_per_group_key} (channels per group) with "
                f"{self.num_groups_key} -1."
            )
        return self.num_groups


@dataclass(frozen=True)
class GroupNormFactory:
    """``channels -> nn.GroupNorm``, the callable form of a norm that detectron2 accepts."""

    spec: GroupNormSpec
    layer: str

    def __call__(self, channels):
        return nn.GroupNorm(self.spec.groups_for(channels, self.layer), channels, eps=self.spec.eps)


def _config_value(cfg, key):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def norm_from_config(cfg, key, layer):
    """The norm a component should use, from the config key ``key`` (e.g. "MODEL.FPN.NORM").

    Returns "" (no norm), a detectron2 norm name, or a :class:`GroupNormFactory`; all three can be
    passed as ``norm=`` to detectron2's layers. ``layer`` names the component in error messages.
    """
    require_gn_config(cfg)  # every gn_det builder passes here first
    norm = _config_value(cfg, key)
    if norm not in KNOWN_NORMS:
        raise ValueError(f"{key}={norm!r} is not a known norm; use one of {list(KNOWN_NORMS)}.")
    if norm == "GN":
        return GroupNormFactory(GroupNormSpec.from_config(cfg), layer)
    return norm
