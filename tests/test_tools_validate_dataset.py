"""tools/validate_dataset.py: the full list of errors and skips, and an exit status for scripts."""
import pytest

from test_data_validation import good_coco, write_dataset
from test_tools_train_net import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("validate_dataset")


def test_a_clean_registered_dataset_exits_0(tool, small_shapes, capsys):
    assert tool.main(["--dataset", "shapes_val"]) == 0
    assert "Dataset 'shapes_val'" in capsys.readouterr().out


def test_errors_and_skips_are_listed_with_ids_and_exit_1(tool, tmp_path, capsys):
    coco = good_coco()
    coco["annotations"][0]["category_id"] = 9
    coco["annotations"][1]["bbox"] = [1, 1, 0, 4]
    coco["images"].append({"id": 3, "file_name": "gone.png", "width": 40, "height": 30})
    json_file, images = write_dataset(tmp_path, coco)

    assert tool.main(["--json", json_file, "--image-root", images]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "ERROR: 1 annotation of a category that is not in 'categories'" in out[1]
    assert ("  annotation 10 of image 1 (a.png): category_id 9 is not in 'categories' (ids [1, 2])"
            in out)
    assert (f"  image 3 (gone.png): {tmp_path / 'images' / 'gone.png'} does not exist (file_name "
            f"resolved against the image root {tmp_path / 'images'})" in out)
    assert "  annotation 11 of image 2 (b.jpg): bbox [1, 1, 0, 4] has no area" in out
    assert any(line.startswith("skipped: 3 image without annotations") for line in out)


def test_long_lists_are_cut_to_max_listed(tool, tmp_path, capsys):
    coco = good_coco()
    coco["images"] += [{"id": i, "file_name": "c.png", "width": 40, "height": 30}
                       for i in range(3, 8)]
    json_file, images = write_dataset(tmp_path, coco)
    assert tool.main(["--json", json_file, "--image-root", images, "--max-listed", "2"]) == 0
    assert "  ... 3 more (--max-listed 0 lists all)" in capsys.readouterr().out


def test_an_unknown_dataset_is_one_line_naming_the_closest(tool):
    with pytest.raises(SystemExit) as stop:
        tool.main(["--dataset", "shapes_vall"])
    assert stop.value.code == ("gn_det: error: Dataset 'shapes_vall' is not registered. Did you "
                               "mean 'shapes_val'?")


def test_by_default_a_dataset_is_checked_for_evaluation_by_a_mask_model(tool, tmp_path, capsys):
    coco = good_coco()
    del coco["annotations"][0]["area"]
    del coco["annotations"][1]["segmentation"]
    json_file, images = write_dataset(tmp_path, coco)
    arguments = ["--json", json_file, "--image-root", images]
    assert tool.main(arguments) == 1
    out = capsys.readouterr().out
    assert "  annotation 10 of image 1 (a.png): has no 'area', which COCO evaluation" in out
    assert "  annotation 11 of image 2 (b.jpg): has no 'segmentation', which a mask model" in out
    assert tool.main(arguments + ["--boxes-only"]) == 1
    assert tool.main(arguments + ["--train-only"]) == 1
    assert tool.main(arguments + ["--train-only", "--boxes-only"]) == 0
