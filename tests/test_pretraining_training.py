"""Pretraining runs: a tiny run lowers the loss and writes weights and result; an interrupted run
resumes where it stopped and ends as if never interrupted; a finished run is not trained again."""
import dataclasses
import json

import pytest
import torch

from conftest import TINY_RESNET, preset_cfg
from gn_det.errors import ConfigError, NonFiniteError
from gn_det.pretraining import CHECKPOINT, RESULT, SHAPES, WEIGHTS, pretrain
from gn_det.pretraining import training

TINY = dataclasses.replace(SHAPES, epochs=4, images_per_batch=8, lr=0.1, image_size=32)


def tiny_cfg():
    return preset_cfg("shapes_mask_rcnn_R18_FPN_ablation.yaml", *TINY_RESNET)


def run(data, output, recipe=TINY, **kwargs):
    messages = []
    result = pretrain(tiny_cfg(), str(data), recipe, str(output), log=messages.append, **kwargs)
    return result, messages


def test_tiny_run_lowers_the_loss_and_writes_weights_and_result(tiny_image_folder, tmp_path):
    result, messages = run(tiny_image_folder, tmp_path)

    losses = [epoch["loss"] for epoch in result["history"]]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.1, losses
    assert json.loads((tmp_path / RESULT).read_text()) == result
    assert 0 <= result["top1_error"] <= 100 and result["val_images"] == 20
    assert result["classes"] == 20 and result["norm"] == "GN (4 groups)"
    assert (tmp_path / WEIGHTS).exists() and (tmp_path / CHECKPOINT).exists()
    assert messages[-1].startswith(f"[pretrain] top-1 error on {tiny_image_folder}/val: ")


def test_interrupted_run_resumes_after_its_last_epoch_and_ends_as_an_uninterrupted_run(
        tiny_image_folder, tmp_path, monkeypatch):
    uninterrupted, _ = run(tiny_image_folder, tmp_path / "whole")
    train_epoch, calls = training._train_epoch, []

    def interrupted_in_epoch_3(*args):
        calls.append(args[4])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return train_epoch(*args)

    monkeypatch.setattr(training, "_train_epoch", interrupted_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_image_folder, tmp_path / "split")
    assert calls == [0, 1, 2]
    assert not (tmp_path / "split" / RESULT).exists()
    monkeypatch.setattr(training, "_train_epoch", train_epoch)
    resumed, messages = run(tiny_image_folder, tmp_path / "split", resume=True)

    assert f"[pretrain] resuming {tmp_path / 'split'} after epoch 2/4" in messages
    assert resumed["top1_error"] == uninterrupted["top1_error"]
    assert ([epoch["loss"] for epoch in resumed["history"]]
            == [epoch["loss"] for epoch in uninterrupted["history"]])
    whole = torch.load(tmp_path / "whole" / WEIGHTS, weights_only=True)["model"]
    split = torch.load(tmp_path / "split" / WEIGHTS, weights_only=True)["model"]
    assert whole.keys() == split.keys()
    assert all(torch.equal(whole[key], split[key]) for key in whole)


def test_finished_run_is_not_trained_again(tiny_image_folder, tmp_path, monkeypatch):
    finished, _ = run(tiny_image_folder, tmp_path)
    monkeypatch.setattr(training, "_train_epoch", None)  # training again would fail

    again, messages = run(tiny_image_folder, tmp_path, resume=True)

    assert again == finished
    assert messages == [f"[pretrain] {tmp_path} holds a finished run: nothing to train."]


def test_resuming_with_other_options_is_refused(tiny_image_folder, tmp_path):
    run(tiny_image_folder, tmp_path)

    with pytest.raises(ConfigError, match=r"--resume: .*result.json comes from other options"):
        run(tiny_image_folder, tmp_path, dataclasses.replace(TINY, epochs=5), resume=True)


def test_a_new_run_without_resume_replaces_the_old_results(tiny_image_folder, tmp_path):
    run(tiny_image_folder, tmp_path)

    result, _ = run(tiny_image_folder, tmp_path, dataclasses.replace(TINY, epochs=1))

    assert len(result["history"]) == 1
    assert json.loads((tmp_path / RESULT).read_text())["recipe"]["epochs"] == 1


def test_diverging_run_stops_with_one_line_and_keeps_no_weights(tiny_image_folder, tmp_path):
    with pytest.raises(NonFiniteError, match="Pretraining diverged in epoch 1: the loss is nan"):
        run(tiny_image_folder, tmp_path, dataclasses.replace(TINY, lr=1.0e12))

    assert not (tmp_path / WEIGHTS).exists() and not (tmp_path / RESULT).exists()
