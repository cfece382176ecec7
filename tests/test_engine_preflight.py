"""Checks before heavy work: configs that cannot work and bad datasets stop tools/train_net.py with
one line, before any training data is read or any checkpoint written."""
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances

from conftest import preset_cfg
from gn_det.engine.preflight import check_datasets, check_training_config
from gn_det.errors import ConfigError, DatasetError
from test_data_validation import good_coco, write_dataset
from test_tools_train_net import DEMO_CONFIG, SHORT_RUN, load_tool

SCRATCH = "mask_rcnn_R50_FPN_gn_scratch.yaml"


@pytest.fixture(scope="module")
def train_net():
    return load_tool("train_net")


def test_batch_not_divisible_by_the_processes_names_both():
    cfg = preset_cfg(SCRATCH, "SOLVER.IMS_PER_BATCH", "6")
    check_training_config(cfg, 2)
    with pytest.raises(ConfigError, match=r"SOLVER.IMS_PER_BATCH=6 is not divisible by the 4 "
                                          r"training processes.*multiple of 4"):
        check_training_config(cfg, 4)


@pytest.mark.parametrize("freeze_at,frozen", [(1, "the stem would"), (2, "the stem and res2 "),
                                              (4, "the stem and res2..res4 ")])
def test_scratch_training_with_frozen_stages_is_refused(freeze_at, frozen):
    cfg = preset_cfg(SCRATCH, "MODEL.BACKBONE.FREEZE_AT", str(freeze_at))
    with pytest.raises(ConfigError, match=rf"MODEL.WEIGHTS is empty .*FREEZE_AT is {freeze_at}: "
                                          rf"{frozen}.*FREEZE_AT 0"):
        check_training_config(cfg, 1)


def test_scratch_and_pretrained_presets_pass():
    check_training_config(preset_cfg(SCRATCH), 1)
    pretrained = preset_cfg("mask_rcnn_R50_FPN_gn.yaml")
    pretrained.MODEL.WEIGHTS = "Detectron/ImageNetPretrained/R-50-GN"
    check_training_config(pretrained, 8)


def test_a_sampler_whose_order_cannot_be_resumed_is_refused():
    cfg = preset_cfg(SCRATCH, "DATALOADER.SAMPLER_TRAIN", "RepeatFactorTrainingSampler")
    with pytest.raises(ConfigError, match="SAMPLER_TRAIN 'RepeatFactorTrainingSampler'"):
        check_training_config(cfg, 1)


def test_an_unknown_coco_eval_backend_is_refused_before_training():
    cfg = preset_cfg(SCRATCH, "TEST.COCO_EVAL_BACKEND", "cocoapi")
    with pytest.raises(ConfigError, match=r"TEST.COCO_EVAL_BACKEND='cocoapi' .*'pycocotools', "
                                          r"'faster_coco_eval'"):
        check_training_config(cfg, 1)


@pytest.fixture
def registered(tmp_path):
    """Registers datasets for one test and removes them afterwards."""
    names = []

    def register(name, coco=None, records=None):
        if records is None:
            register_coco_instances(name, {}, *write_dataset(tmp_path, coco))
        else:
            DatasetCatalog.register(name, lambda: records)
            MetadataCatalog.get(name).set(thing_classes=["one", "two"])
        names.append(name)
        return name

    yield register
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


@pytest.fixture
def bad_dataset(registered):
    """A registered COCO dataset whose second annotation has a category that does not exist."""
    coco = good_coco()
    coco["annotations"][1]["category_id"] = 5
    return registered("gn_det_test_preflight_bad", coco)


def run_cfg(train, test, *overrides):
    return preset_cfg(SCRATCH, "DATASETS.TRAIN", str(tuple(train)), "DATASETS.TEST",
                      str(tuple(test)), *overrides)


def test_check_datasets_raises_the_first_error_and_passes_good_ones(bad_dataset, small_shapes):
    check_datasets(run_cfg(["shapes_train"], ["shapes_val"]))
    with pytest.raises(DatasetError, match=rf"Dataset '{bad_dataset}' .*: annotation 11 of image 2 "
                                           r"\(b.jpg\): category_id 5 is not in 'categories'"):
        check_datasets(run_cfg(["shapes_val"], [bad_dataset]))


def without_area():
    coco = good_coco()
    for annotation in coco["annotations"]:
        del annotation["area"]
    return coco


def test_an_evaluated_dataset_without_area_stops_the_run_a_training_set_does_not(registered,
                                                                                 tmp_path):
    name = registered("gn_det_test_preflight_no_area", without_area())
    check_datasets(run_cfg([name], []))
    with pytest.raises(DatasetError) as error:
        check_datasets(run_cfg([], [name]))
    json_file = tmp_path / "instances.json"
    assert str(error.value).startswith(
        f"Dataset '{name}' ({json_file}): annotation 10 of image 1 (a.png): has no 'area', which "
        f"COCO evaluation (pycocotools COCOeval).evaluateImg reads.")
    # Evaluation-only runs (--eval-only) check the test sets alone.
    check_datasets(run_cfg([name], [], "MODEL.MASK_ON", "True"), training=False)


def test_the_listing_command_is_one_the_tool_can_run_for_a_json_dataset(registered, tmp_path,
                                                                        capsys):
    name = registered("gn_det_test_preflight_listing", without_area())
    with pytest.raises(DatasetError) as error:
        check_datasets(run_cfg([], [name], "MODEL.MASK_ON", "False"))
    json_file, images = tmp_path / "instances.json", tmp_path / "images"
    command = (f"python tools/validate_dataset.py --json {json_file} --image-root {images} "
               f"--boxes-only")
    assert f"1 more error: `{command}` lists them all." in str(error.value)
    assert load_tool("validate_dataset").main(command.split()[2:]) == 1
    assert "has no 'area'" in capsys.readouterr().out


def test_a_dataset_registered_from_dicts_is_listed_in_the_code_that_registers_it(registered,
                                                                                 tmp_path):
    write_dataset(tmp_path, good_coco())
    records = [{"file_name": str(tmp_path / "images" / name), "image_id": index, "width": 40,
                "height": 30, "annotations": [{"bbox": [1, 1, 5, 5], "category_id": 0}]}
               for index, name in enumerate(["a.png", "b.jpg"])]
    name = registered("gn_det_test_preflight_dicts", records=records)
    with pytest.raises(DatasetError) as error:
        check_datasets(run_cfg([name], [], "MODEL.MASK_ON", "False"))
    message = str(error.value)
    assert "has no 'bbox_mode'" in message and "tools/validate_dataset.py" not in message
    assert (f"1 more error: `gn_det.data.validation.validate_dataset('{name}', "
            f"use=Use(evaluated=False, masks=False)).lines()`, called in the code that registers "
            f"'{name}', lists them all." in message)


def run_and_get_exit_message(train_net, tmp_path, *overrides):
    with pytest.raises(SystemExit) as stop:
        train_net.run(["--config", DEMO_CONFIG, *SHORT_RUN, *overrides,
                       "OUTPUT_DIR", str(tmp_path / "run")])
    assert not list((tmp_path / "run").glob("*.pth"))
    return stop.value.code


def test_groups_that_do_not_divide_channels_stop_the_cli_with_one_line(train_net, tmp_path):
    message = run_and_get_exit_message(train_net, tmp_path, "MODEL.GN.NUM_GROUPS", "3")
    assert message.startswith("gn_det: error: Cannot build the model: GroupNorm in ")
    assert "MODEL.GN.NUM_GROUPS=3 does not divide its 32 channels" in message
    assert "\n" not in message


def test_scratch_with_frozen_stages_stops_the_cli_with_one_line(train_net, tmp_path):
    message = run_and_get_exit_message(train_net, tmp_path, "MODEL.BACKBONE.FREEZE_AT", "2")
    assert message.startswith("gn_det: error: MODEL.WEIGHTS is empty") and "\n" not in message


def test_a_bad_dataset_stops_the_cli_with_one_line_before_training(train_net, tmp_path,
                                                                   bad_dataset, small_shapes):
    message = run_and_get_exit_message(train_net, tmp_path, "DATASETS.TRAIN",
                                       f"('{bad_dataset}',)")
    assert message.startswith(f"gn_det: error: Dataset '{bad_dataset}'")
    assert "annotation 11" in message and "\n" not in message
