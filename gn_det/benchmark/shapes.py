"""Parity on trained weights: a short training of the demo model on the shapes set, then the
detections and AP of two builds of it compared (tests/test_fast_path_parity.py, gpu_check)."""
import os

import torch
from detectron2.data import build_detection_test_loader
from detectron2.evaluation import inference_on_dataset
from detectron2.utils.events import EventStorage

from ..config import load_config
from ..evaluation import evaluator_from_config
from ..modeling import build_model
from .models import CONFIG_DIR
from .parity import match_detections

DEMO_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")


def demo_config(device, *overrides):
    return load_config(DEMO_CONFIG, ["MODEL.DEVICE", device, *overrides])


def briefly_trained_weights(device, iterations=150, lr=0.02, warmup=20, seed=0):
    """The demo model's state dict after ``iterations`` SGD steps on shapes_train (2 images per
    batch, gradient norm clipped at 5 as in the demo): enough for spread scores and real masks."""
    from ..engine import Trainer  # its data loader (gn_det's training stream)

    cfg = demo_config(device, "SOLVER.IMS_PER_BATCH", 2)
    loader = iter(Trainer.build_train_loader(cfg))
    torch.manual_seed(seed)
    model = build_model(cfg).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for iteration in range(iterations):
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (iteration + 1) / warmup)
        with EventStorage(iteration):
            losses = model(next(loader))
        optimizer.zero_grad()
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_model(weights, cfg, build=build_model):
    model = build(cfg).eval()
    model.load_state_dict(weights)
    return model


def match_on_val_images(reference, other, cfg, num_images=6):
    """:func:`match_detections` of ``other`` against ``reference`` on the first shapes_val
    images; a list of results, one per image."""
    loader = build_detection_test_loader(cfg, "shapes_val")
    results = []
    with torch.no_grad():
        for _, batch in zip(range(num_images), loader):
            results.append(match_detections(reference(batch)[0]["instances"].to("cpu"),
                                            other(batch)[0]["instances"].to("cpu")))
    return results


def val_ap(model, cfg):
    """(box AP, mask AP) of ``model`` on shapes_val (pycocotools)."""
    loader = build_detection_test_loader(cfg, "shapes_val")
    results = inference_on_dataset(model, loader, evaluator_from_config(cfg, "shapes_val"))
    return results["bbox"]["AP"], results["segm"]["AP"]
