"""tools/ablate.py end to end in quick mode on a few shapes images: table, JSON, plots, verdicts."""
import json

from test_tools_train_net import load_tool


def test_quick_mode_writes_results_table_json_plots_and_verdicts(small_shapes, tmp_path):
    ablate = load_tool("ablate")
    output = tmp_path / "ablation"
    text = ablate.main(ablate.argument_parser().parse_args(
        ["--quick", "--val-images", "2", "--output-dir", str(output)]))

    runs = json.loads((output / "results.json").read_text())["runs"]
    assert {r["study"] for r in runs} == {"box_head", "scratch", "groups", "batch"}
    assert all(0 <= r["box_ap"] <= 100 and 0 <= r["mask_ap"] <= 100 for r in runs)
    assert (output / "results.md").read_text() == text
    assert "GN box head beats BN box head at 2 images/batch" in text
    for plot in ("bar_box_head.png", "bar_scratch.png", "bar_groups.png", "ap_vs_batch.png"):
        assert (output / plot).stat().st_size > 0


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
