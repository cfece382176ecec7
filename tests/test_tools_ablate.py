"""tools/ablate.py end to end in quick mode on a few shapes images: table, JSON, plots, verdicts,
run folders; the run plan of gn_det.ablation."""
import json
import os

import pytest

from conftest import CONFIG_DIR
from gn_det.ablation import plan, studies
from gn_det.config import load_config
from gn_det.errors import GNDetError
from test_tools_train_net import load_tool

ABLATION_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_ablation.yaml")


def test_quick_mode_writes_results_table_json_plots_and_verdicts(small_shapes, tmp_path):
    ablate = load_tool("ablate")
    output = tmp_path / "ablation"
    text = ablate.main(ablate.argument_parser().parse_args(
        ["--quick", "--val-images", "2", "--output-dir", str(output)]))

    runs = json.loads((output / "results.json").read_text())["runs"]
    assert {r["study"] for r in runs} == {"box_head", "scratch", "groups", "batch"}
    assert all(0 <= r["box_ap"] <= 100 and 0 <= r["mask_ap"] <= 100 for r in runs)
    assert (output / "results.md").read_text() == text
    assert "GN box head beats BN box head at 2 images/batch: not judged (quick run)" in text
    assert text.startswith("**Quick run (`--quick`): a smoke test of the pipeline.**")
    assert "reproduced" not in text and "inconclusive" not in text
    for plot in ("bar_box_head.png", "bar_scratch.png", "bar_groups.png", "ap_vs_batch.png"):
        assert (output / plot).stat().st_size > 0
    all_gn = output / "runs" / "res-GN_fpn-GN_box-GN_mask-GN_G32_ims2_seed0"
    assert {r["output_dir"] for r in runs if r["cell"] in ("GN", "G=32", "GN @2")} == {str(all_gn)}
    for run_dir in {r["output_dir"] for r in runs}:  # each run's full config, loadable as it is
        saved = load_config(os.path.join(run_dir, "config.yaml"))
        assert saved.OUTPUT_DIR == run_dir and saved.SOLVER.MAX_ITER * saved.SOLVER.IMS_PER_BATCH == 16


def test_report_only_rewrites_the_report_from_partial_results(tmp_path):
    ablate = load_tool("ablate")
    runs = [{"study": "box_head", "cell": cell, "seed": seed, "box_ap": ap + seed,
             "mask_ap": ap, "seconds": 1.0, "output_dir": ""}
            for cell, ap in (("BN", 10.0), ("GN", 20.0)) for seed in (0, 1)]
    (tmp_path / "results.json").write_text(json.dumps({"wall_seconds": 60.0, "runs": runs}))
    text = ablate.main(ablate.argument_parser().parse_args(
        ["--report-only", "--output-dir", str(tmp_path)]))

    assert "GN box head beats BN box head at 2 images/batch: reproduced (+10.0 box AP)" in text
    assert "| none | not run | not run | 0 |" in text
    assert (tmp_path / "bar_box_head.png").exists()


def test_report_only_without_results_says_to_run_the_ablation_first_and_creates_nothing(tmp_path):
    ablate = load_tool("ablate")
    missing = tmp_path / "never_ran"
    with pytest.raises(GNDetError, match=rf"No results.json in {missing}: .*--output-dir {missing}"):
        ablate.main(ablate.argument_parser().parse_args(
            ["--report-only", "--output-dir", str(missing)]))
    assert not missing.exists()


def test_run_folders_are_named_by_their_settings_whichever_cells_run():
    def folders(quick):
        names, runs = plan(ABLATION_CONFIG, studies(800, quick=quick), [], seeds=1)
        return names, {run_name for run_name, *_ in runs}

    names, full = folders(quick=False)
    quick_names, quick = folders(quick=True)
    assert len(full) == 14 and quick < full  # 21 cells, 14 distinct configs
    assert all(quick_names[cell] == names[cell] for cell in quick_names)
    assert names["scratch", "GN"] == names["groups", "G=32"] == names["batch", "GN @2"] == (
        "res-GN_fpn-GN_box-GN_mask-GN_G32_ims2")
    assert names["scratch", "BN"] == "res-BN_fpn-BN_box-BN_mask-BN_ims2"
    assert names["scratch", "BN*"] == "res-FrozenBN_fpn-FrozenBN_box-none_mask-none_ims2"
    assert names["box_head", "none"] == "res-GN_fpn-GN_box-none_mask-GN_G32_ims2"
    assert names["groups", "1 ch/group (IN)"] == "res-GN_fpn-GN_box-GN_mask-GN_1ch-per-group_ims2"
    assert names["batch", "BN @8"] == "res-GN_fpn-GN_box-BN_mask-GN_G32_ims8"
