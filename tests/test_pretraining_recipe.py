"""Pretraining recipes: the linear scaling rule and the paper's step schedule with warmup."""
import pytest

from gn_det.pretraining import IMAGENET, Recipe


def test_default_lr_follows_the_linear_scaling_rule():
    # The paper's ImageNet runs: 8 GPUs x 32 images, LR 0.1.
    assert IMAGENET.total_lr(processes=8) == pytest.approx(0.1)
    assert Recipe(epochs=1, images_per_batch=4).total_lr(processes=1) == pytest.approx(0.1 / 64)


def test_given_lr_is_the_lr_of_the_total_batch():
    assert Recipe(epochs=1, lr=0.5).total_lr(processes=8) == 0.5


@pytest.mark.parametrize("progress, factor", [
    (0.0, 0.1), (0.025, 0.55), (0.05, 1.0), (0.29, 1.0), (0.3, 0.1), (0.6, 0.01), (0.95, 0.001)])
def test_lr_warms_up_then_drops_tenfold_at_30_60_and_90_percent(progress, factor):
    recipe = Recipe(epochs=100, lr=0.2)

    assert recipe.lr_at(round(progress * 1000), 1000, processes=1) == pytest.approx(0.2 * factor)
