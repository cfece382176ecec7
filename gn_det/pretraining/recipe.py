"""What a pretraining run depends on besides the model config and the data: schedule, batch,
learning rate (linear scaling) and augmentation, with the paper's ImageNet recipe and the shapes
proxy's."""
from dataclasses import dataclass
from typing import Optional

# The linear scaling rule (Goyal et al., 2017): LR 0.1 for 256 images per step, proportional to
# the total batch. The paper's ImageNet runs: 8 GPUs x 32 images, LR 0.1.
LR_PER_256_IMAGES = 0.1


@dataclass(frozen=True)
class Recipe:
    """A pretraining schedule. Every field is saved in the checkpoint: --resume refuses another."""

    # Passes over the training split (the paper: 100 on ImageNet).
    epochs: int
    # Images per process (per GPU) and step; BN's batch statistics are over these (the paper: 32).
    images_per_batch: int = 32
    # LR of the total batch (images_per_batch x processes); None: linear scaling,
    # LR_PER_256_IMAGES x total batch / 256.
    lr: Optional[float] = None
    # Side of the square training and validation crops, in pixels.
    image_size: int = 224
    # Smallest area of a training crop (RandomResizedCrop) as a fraction of the image.
    min_crop_scale: float = 0.08
    # Seed of the initialization, the order of the training images and their augmentation.
    seed: int = 0
    # SGD momentum.
    momentum: float = 0.9
    # Weight decay of every weight, GN's and BN's gamma and beta included (as the paper).
    weight_decay: float = 1.0e-4
    # The LR is divided by 10 after each of these fractions of training (the paper: epochs 30, 60
    # and 90 of 100).
    lr_steps: tuple = (0.3, 0.6, 0.9)
    # Linear warmup from 0.1 x LR over this fraction of training (5 of 100 epochs).
    warmup: float = 0.05

    def total_lr(self, processes):
        """The LR of a step of ``processes`` x images_per_batch images."""
        if self.lr is not None:
            return self.lr
        return LR_PER_256_IMAGES * self.images_per_batch * processes / 256

    def lr_at(self, step, total_steps, processes):
        """The LR of ``step`` (0-based) of ``total_steps``."""
        progress = step / total_steps
        factor = 0.1 ** sum(progress >= boundary for boundary in self.lr_steps)
        if progress < self.warmup:
            factor *= 0.1 + 0.9 * progress / self.warmup
        return self.total_lr(processes) * factor


# ImageNet as in the paper (Wu & He, 2018, Sec. 4.1): 100 epochs, 32 images per GPU, 224 x 224
# crops of Inception-style scale augmentation.
IMAGENET = Recipe(epochs=100)
# The shapes classification set: 64 x 64 images whose main shape must stay in the crop.
SHAPES = Recipe(epochs=10, image_size=64, min_crop_scale=0.35)
