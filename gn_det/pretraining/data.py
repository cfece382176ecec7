"""Images for classification pretraining: a dataset in ImageFolder layout (``train/<class>/`` and
``val/<class>/``, as ImageNet is usually stored), checked up front with one clear error, fed in
the detection model's input convention, and split between processes."""
import os

import numpy as np
import torch
from torchvision import transforms
from torchvision.datasets import ImageFolder

from ..errors import ConfigError, DatasetError
from ..seeding import EPOCH_ORDER, derive_seed

TRAIN, VAL = "train", "val"
# Validation images are resized to image_size x 256/224 (shorter side), then centre-cropped, as
# ImageNet's 224 crops of 256 images.
VAL_RESIZE = 256 / 224
_LAYOUT = "ImageFolder layout: DIR/train/<class>/<image> and DIR/val/<class>/<image>"


class DetectionInput:
    """PIL RGB image -> float CHW tensor as the detection model normalizes its input: 0-255 pixels
    in INPUT.FORMAT's channel order, minus MODEL.PIXEL_MEAN, divided by MODEL.PIXEL_STD; so the
    fine-tuned backbone sees the inputs it was pretrained on."""

    def __init__(self, cfg):
        if cfg.INPUT.FORMAT not in ("RGB", "BGR"):
            raise ConfigError(f"INPUT.FORMAT {cfg.INPUT.FORMAT!r}: pretraining reads colour "
                              "images, as RGB or BGR.")
        self.bgr = cfg.INPUT.FORMAT == "BGR"
        self.mean = torch.tensor(cfg.MODEL.PIXEL_MEAN, dtype=torch.float32).reshape(3, 1, 1)
        self.std = torch.tensor(cfg.MODEL.PIXEL_STD, dtype=torch.float32).reshape(3, 1, 1)

    def __call__(self, image):
        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32).copy())
        pixels = pixels.permute(2, 0, 1)
        if self.bgr:
            pixels = pixels.flip(0)
        return (pixels - self.mean) / self.std


def _class_folders(path):
    return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())


def check_image_folder(root):
    """Raise DatasetError unless ``root``'s train/ and val/ are ImageFolder roots with the same
    classes; return the classes."""
    if not os.path.isdir(root):
        problem = "is not a folder" if os.path.exists(root) else "does not exist"
        raise DatasetError(f"Pretraining data {root} {problem}: --data takes a folder in "
                           f"{_LAYOUT} (without --data: the shapes classification set).")
    found = {}
    for split in (TRAIN, VAL):
        path = os.path.join(root, split)
        if not os.path.isdir(path):
            raise DatasetError(f"{root} has no {split}/ folder: pretraining data must be in "
                               f"{_LAYOUT}.")
        found[split] = _class_folders(path)
        if not found[split]:
            raise DatasetError(f"{path} has no class folders: pretraining data must be in "
                               f"{_LAYOUT}.")
    if found[TRAIN] != found[VAL]:
        only = sorted(set(found[TRAIN]) ^ set(found[VAL]))
        raise DatasetError(f"{root}: train/ and val/ must have the same class folders; "
                           f"{len(only)} are in only one of them, e.g. {', '.join(only[:3])}.")
    return found[TRAIN]


def _image_folder(path, transform):
    try:
        return ImageFolder(path, transform)
    except FileNotFoundError as error:  # a class folder without images
        raise DatasetError(f"{path}: {error}") from None


def image_folders(root, cfg, recipe):
    """(train, val) ImageFolder datasets of ``root``: augmented training crops and centre
    validation crops of recipe.image_size, in the detection input convention of ``cfg``."""
    check_image_folder(root)
    size = recipe.image_size
    train = transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(recipe.min_crop_scale, 1.0)),
        transforms.RandomHorizontalFlip(),
        DetectionInput(cfg),
    ])
    val = transforms.Compose([
        transforms.Resize(round(size * VAL_RESIZE)),
        transforms.CenterCrop(size),
        DetectionInput(cfg),
    ])
    return (_image_folder(os.path.join(root, TRAIN), train),
            _image_folder(os.path.join(root, VAL), val))


def epoch_indices(num_images, seed, epoch, rank, processes):
    """This process's training images of ``epoch``, in order: a permutation that depends only on
    (seed, epoch), split evenly between the processes (the few left over skip this epoch)."""
    generator = torch.Generator().manual_seed(derive_seed(seed, EPOCH_ORDER, epoch))
    order = torch.randperm(num_images, generator=generator)
    per_process = num_images // processes
    return order[rank * per_process:(rank + 1) * per_process].tolist()


def val_indices(num_images, rank, processes):
    """This process's share of the validation images: each image once over all processes."""
    return list(range(rank, num_images, processes))
