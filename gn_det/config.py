from detectron2.config import CfgNode as CN


def add_gn_config(cfg):
    """Add gn_det's keys to a detectron2 config. Call on ``get_cfg()`` before ``merge_from_file``.

    Calling it again on the same config changes nothing (values already set are kept).
    """
    if "GN" in cfg.MODEL:
        return cfg
    cfg.MODEL.GN = CN()
    # Number of groups G of every "GN" norm layer (paper: 32). LN is NUM_GROUPS 1.
    cfg.MODEL.GN.NUM_GROUPS = 32
    # Channels per group instead of a number of groups; -1 = off. Exactly one of NUM_GROUPS and
    # DIM_PER_GROUP is active: set NUM_GROUPS to -1 to use it. IN is DIM_PER_GROUP 1.
    cfg.MODEL.GN.DIM_PER_GROUP = -1
    # Added to the group variance before the square root.
    cfg.MODEL.GN.EPSILON = 1e-5
    # Weight standardization (Qiao et al., 2019) in every conv followed by a "GN" norm (GN+WS).
    cfg.MODEL.GN.WEIGHT_STANDARDIZATION = False
    return cfg
