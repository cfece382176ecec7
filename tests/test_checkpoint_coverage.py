"""The coverage report: groups, counts, text, and the strict backbone check."""
import pytest
import torch

from gn_det.checkpoint import BackboneWeightsError, require_backbone_loaded
from gn_det.checkpoint.converted import ConvertedWeights
from gn_det.checkpoint.coverage import measure_coverage, module_group


@pytest.mark.parametrize("name, group", [
    ("backbone.bottom_up.stem.conv1.norm.weight", "stem"),
    ("backbone.bottom_up.res2.0.shortcut.weight", "res2"),
    ("backbone.res4.5.conv2.norm.bias", "res4"),
    ("roi_heads.res5.2.conv3.weight", "res5"),
    ("res3.1.conv2.weights", "res3"),
    ("backbone.fpn_lateral5.norm.weight", "FPN"),
    ("proposal_generator.rpn_head.anchor_deltas.bias", "RPN"),
    ("roi_heads.box_head.fc1.weight", "box head"),
    ("roi_heads.box_predictor.cls_score.weight", "box head"),
    ("cls_score.weight", "box head"),
    ("roi_heads.mask_head.deconv.weight", "mask head"),
    ("pixel_mean", "other"),
])
def test_names_fall_in_their_module_group(name, group):
    assert module_group(name) == group


MODEL = {
    "backbone.bottom_up.stem.conv1.weight": torch.zeros(4, 3, 7, 7),
    "backbone.bottom_up.res2.0.conv1.weight": torch.zeros(4, 4, 1, 1),
    "backbone.bottom_up.res2.0.conv1.norm.weight": torch.zeros(4),
    "backbone.fpn_lateral2.weight": torch.zeros(8, 4, 1, 1),
    "roi_heads.box_predictor.cls_score.weight": torch.zeros(3, 8),
}


def report_for(tensors, source_names=None):
    converted = ConvertedWeights(format="test", tensors=tensors,
                                 source_names=source_names or {key: key for key in tensors},
                                 ignored={"fc.weight": "ImageNet 1000-way classifier"})
    return measure_coverage(MODEL, converted, "weights.pth")


def test_report_counts_loaded_missing_mismatched_and_unexpected_per_group():
    report = report_for({
        "backbone.bottom_up.stem.conv1.weight": torch.ones(4, 3, 7, 7),
        "backbone.bottom_up.res2.0.conv1.weight": torch.ones(4, 4, 3, 3),
        "backbone.bottom_up.res2.0.conv1.norm.weight": torch.ones(4),
        "res2.0.conv1.norm.running_mean": torch.ones(4),
    })

    assert report.table() == "\n".join([
        "| group    |   in model |   loaded |   missing |   shape mismatch |   unexpected |",
        "|:---------|-----------:|---------:|----------:|-----------------:|-------------:|",
        "| stem     |          1 |        1 |         0 |                0 |            0 |",
        "| res2     |          2 |        1 |         0 |                1 |            1 |",
        "| FPN      |          1 |        0 |         1 |                0 |            0 |",
        "| box head |          1 |        0 |         1 |                0 |            0 |",
        "| total    |          5 |        2 |         2 |                1 |            1 |",
    ])
    text = str(report)
    assert text.startswith(
        "Weights coverage of weights.pth (test): 2 of 5 model tensors loaded (40.0%).")
    assert "  FPN: all 1" in text
    assert ("backbone.bottom_up.res2.0.conv1.weight: shape (4, 4, 3, 3) in the file "
            "(backbone.bottom_up.res2.0.conv1.weight), (4, 4, 1, 1) in the model") in text
    assert "  res2: res2.0.conv1.norm.running_mean" in text
    assert "  ImageNet 1000-way classifier: fc.weight" in text


def test_strict_check_accepts_a_complete_resnet_without_fpn_or_heads():
    report = report_for({key: value for key, value in MODEL.items() if ".bottom_up." in key})

    require_backbone_loaded(report)


def test_strict_check_lists_the_resnet_tensors_left_at_initialization():
    report = report_for({"backbone.bottom_up.stem.conv1.weight": torch.ones(4, 3, 7, 7)})
    report.hints = ["wrong norm: example"]

    with pytest.raises(BackboneWeightsError) as error:
        require_backbone_loaded(report)

    assert str(error.value).splitlines() == [
        ("Strict backbone loading refuses weights.pth (test): 2 ResNet tensors of the model "
         "would keep their random initialization."),
        "  backbone.bottom_up.res2.0.conv1.weight: not in the file",
        "  backbone.bottom_up.res2.0.conv1.norm.weight: not in the file",
        "Likely cause: wrong norm: example",
    ]


def test_strict_check_refuses_resnet_entries_the_model_lacks():
    tensors = {key: value for key, value in MODEL.items() if ".bottom_up." in key}
    tensors["res2.1.conv1.weight"] = torch.ones(4, 4, 1, 1)

    with pytest.raises(BackboneWeightsError, match="1 ResNet entries of the file match no model"):
        require_backbone_loaded(report_for(tensors))
