"""C4, FPN and from-scratch models take a training step and an inference step on tiny inputs."""
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from conftest import preset_cfg
from gn_det.solver import build_optimizer

TINY = ["INPUT.MIN_SIZE_TEST", 64, "INPUT.MAX_SIZE_TEST", 96, "MODEL.ROI_HEADS.NUM_CLASSES", 3,
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", 32, "MODEL.RPN.POST_NMS_TOPK_TRAIN", 64,
        "MODEL.RPN.POST_NMS_TOPK_TEST", 32, "MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0]


def training_input(height, width, boxes):
    """An image with one instance per box (mask = the box), or with no instance at all."""
    instances = Instances((height, width))
    instances.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    instances.gt_classes = torch.arange(len(boxes)) % 3
    masks = torch.zeros(len(boxes), height, width, dtype=torch.bool)
    for mask, (x0, y0, x1, y1) in zip(masks, boxes):
        mask[int(y0):int(y1), int(x0):int(x1)] = True
    instances.gt_masks = BitMasks(masks)
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8).float()
    return {"image": image, "instances": instances, "height": height, "width": width}


@pytest.mark.parametrize("preset", [
    "mask_rcnn_R50_C4_gn.yaml",
    "mask_rcnn_R50_FPN_gn.yaml",
    "mask_rcnn_R50_FPN_gn_scratch.yaml",
    "mask_rcnn_R50_FPN_bnfrozen_bnhead.yaml",
])
def test_training_step_then_inference_including_an_image_without_instances(preset):
    cfg = preset_cfg(preset, *TINY)
    model = build_model(cfg).train()
    optimizer = build_optimizer(cfg, model)
    batch = [training_input(64, 96, [[4, 6, 40, 50], [30, 10, 90, 60]]),
             training_input(72, 80, [])]
    with EventStorage():
        losses = model(batch)
    assert {"loss_cls", "loss_box_reg", "loss_mask", "loss_rpn_cls", "loss_rpn_loc"} <= set(losses)
    total = sum(losses.values())
    assert torch.isfinite(total)
    before = model.roi_heads.box_predictor.cls_score.weight.detach().clone()
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    assert not torch.equal(before, model.roi_heads.box_predictor.cls_score.weight)

    model.eval()
    with torch.no_grad():
        outputs = model([{"image": b["image"], "height": b["height"], "width": b["width"]}
                         for b in batch])
    for output, sample in zip(outputs, batch):
        instances = output["instances"]
        assert instances.image_size == (sample["height"], sample["width"])
        assert instances.pred_masks.shape[1:] == (sample["height"], sample["width"])
