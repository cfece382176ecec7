# Paper Table 4, LN: the GN preset with one group per layer (GN with G=1 is LN), 180k.
# Lazy twin of configs/mask_rcnn_R50_C4_ln.yaml.
from .mask_rcnn_R50_C4_gn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# One group: each layer normalizes over all its channels (LN).
gn["num_groups"] = 1
