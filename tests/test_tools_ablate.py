"""tools/ablate.py end to end in quick mode (results, verdicts, plots, resuming), its run plan and
its verdicts against Welch intervals computed by hand."""
import json
import os

import pytest

from gn_det.ablation import (DEFAULT_SCHEDULE, QUICK_SCHEDULE, Detection, Pretraining,
                             estimated_wall_seconds, plan, run_name, studies)
from gn_det.ablation.report import claim_line
from gn_det.ablation.studies import CLAIMS
from gn_det.config import load_config
from gn_det.errors import GNDetError
from test_tools_train_net import load_tool


def _quick(output, *extra):
    ablate = load_tool("ablate")
    return ablate.main(ablate.argument_parser().parse_args(
        ["--quick", "--workers", "1", "--output-dir", str(output), *extra]))


def test_quick_mode_writes_results_plots_and_unjudged_verdicts_and_resumes(small_shapes,
                                                                          tmp_path, capsys):
    output = tmp_path / "ablation"
    text = _quick(output)

    records = json.loads((output / "results.json").read_text())["records"]
    assert {r["study"] for r in records} == {"finetune", "batch", "transfer", "scratch",
                                            "box_head", "groups"}
    assert all(0 <= r["box_ap"] <= 100 and 0 <= r["mask_ap"] <= 100 for r in records
               if r["study"] != "batch")
    assert all(0 <= r["top1_error"] <= 100 for r in records if r["study"] == "batch")
    assert (output / "results.md").read_text() == text
    assert text.startswith("**Quick run (`--quick`): a smoke test of the pipeline.**")
    assert "- Fine-tuned at 1x, GN beats BN*: **not judged (quick run)**" in text
    claims = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(claims) == 10 and all("**not judged (quick run)**" in line for line in claims)
    for plot in ("bar_finetune.png", "bar_scratch.png", "bar_box_head.png", "bar_groups.png",
                 "bar_transfer.png", "error_vs_batch.png", "ap_vs_batch.png"):
        assert (output / plot).stat().st_size > 0
    # The fine-tuned BN* model starts from the BN backbone pretrained at 32 images per batch, the
    # batch study's "BN @32" run, with stem and res2 frozen.
    folder = {(r["study"], r["cell"]): r["output_dir"] for r in records}
    fine_tuned = load_config(os.path.join(folder["finetune", "BN* 1x"], "config.yaml"))
    assert fine_tuned.MODEL.WEIGHTS == os.path.join(folder["batch", "BN @32"], "model_final.pth")
    assert fine_tuned.MODEL.RESNETS.NORM == "FrozenBN" and fine_tuned.MODEL.BACKBONE.FREEZE_AT == 2
    # The transfer study fine-tunes the GN backbone pretrained at 2 images per batch with GN.
    from_small_batch = load_config(os.path.join(folder["transfer", "GN from @2"], "config.yaml"))
    assert from_small_batch.MODEL.WEIGHTS == os.path.join(folder["batch", "GN @2"],
                                                          "model_final.pth")
    assert from_small_batch.MODEL.RESNETS.NORM == from_small_batch.MODEL.FPN.NORM == "GN"
    assert folder["transfer", "BN* from @32"] == folder["finetune", "BN* 1x"]
    from_scratch = load_config(os.path.join(folder["scratch", "GN"], "config.yaml"))
    assert from_scratch.MODEL.WEIGHTS == "" and from_scratch.MODEL.BACKBONE.FREEZE_AT == 0
    assert folder["scratch", "GN"] == folder["box_head", "GN"] == folder["groups", "G=8"]

    # Run again: nothing is trained; with one result removed, only that run is.
    capsys.readouterr()
    # The same tables and verdicts; only the wall time (which adds the rerun's seconds) may differ.
    assert _quick(output).split("wall time")[0] == text.split("wall time")[0]
    assert "12 runs (12 finished before)" in capsys.readouterr().out
    os.remove(os.path.join(folder["scratch", "BN"], "result.json"))
    _quick(output)
    trained = [line for line in capsys.readouterr().out.splitlines() if " min (elapsed" in line]
    assert len(trained) == 1 and os.path.basename(folder["scratch", "BN"]) in trained[0]


def test_quick_and_full_runs_never_share_a_folder(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(
        {"wall_seconds": 1.0, "quick": False, "records": []}))
    with pytest.raises(GNDetError, match="holds a full ablation: give another --output-dir"):
        _quick(tmp_path)


def test_report_only_rewrites_the_report_from_partial_results(tmp_path, capsys):
    ablate = load_tool("ablate")
    records = [{"study": "box_head", "cell": cell, "seed": seed, "box_ap": ap + seed,
                "mask_ap": ap, "output_dir": f"{cell}{seed}"}
               for cell, ap in (("BN", 10.0), ("GN", 20.0)) for seed in (0, 1)]
    (tmp_path / "results.json").write_text(json.dumps(
        {"wall_seconds": 60.0, "quick": False, "records": records}))
    text = ablate.main(ablate.argument_parser().parse_args(
        ["--report-only", "--output-dir", str(tmp_path)]))

    # GN 20, 21 vs BN 10, 11: +10, Welch df 2, t(0.975, 2) = 4.303, half width 3.04.
    assert ("- GN box head beats BN box head: **reproduced**, +10.0 box AP (95% CI +7.0 to +13.0)"
            in text)
    assert "| none | not run | not run |  | 0 |" in text
    assert ("GN box head beats a box head without norm: not measured (no finished run of none)"
            in text)
    assert (tmp_path / "bar_box_head.png").exists()
    assert capsys.readouterr().out.strip() == text.strip()


def test_report_only_without_results_says_to_run_the_ablation_first_and_creates_nothing(tmp_path):
    ablate = load_tool("ablate")
    missing = tmp_path / "never_ran"
    with pytest.raises(GNDetError, match=rf"No results.json in {missing}: .*--output-dir {missing}"):
        ablate.main(ablate.argument_parser().parse_args(
            ["--report-only", "--output-dir", str(missing)]))
    assert not missing.exists()


def _records(study, values):
    return [{"study": study, "cell": cell, "seed": seed, "box_ap": value, "top1_error": value}
            for cell, per_seed in values.items() for seed, value in enumerate(per_seed)]


def _claim(text):
    return next(claim for claim in CLAIMS if claim.text == text)


def test_verdicts_follow_the_welch_interval_computed_by_hand():
    # GN 10, 11, 12 vs BN 5, 6, 7: difference 5, variances 1, standard error sqrt(2/3), Welch df
    # (2/3)^2 / (2 (1/3)^2 / 2) = 4, t(0.975, 4) = 2.7764: 5 -+ 2.267 = 2.733 to 7.267.
    claim = _claim("GN box head beats BN box head")
    line = claim_line(claim, _records("box_head", {"GN": [10, 11, 12], "BN": [5, 6, 7]}), True)
    assert line.startswith("- GN box head beats BN box head: **reproduced**, +5.0 box AP "
                           "(95% CI +2.7 to +7.3).")
    reversed_line = claim_line(claim, _records("box_head", {"GN": [5, 6, 7], "BN": [10, 11, 12]}),
                               True)
    assert "**not reproduced**, -5.0 box AP (95% CI -7.3 to -2.7)" in reversed_line
    # Difference 1 with the same spread: 1 -+ 2.267 contains 0.
    close = claim_line(claim, _records("box_head", {"GN": [6, 7, 8], "BN": [5, 6, 7]}), True)
    assert "**inconclusive**, +1.0 box AP (95% CI -1.3 to +3.3)" in close


def test_error_claims_expect_the_paper_direction_of_top1_error():
    # BN's error rises from 30 to 40 as the batch shrinks, GN's stays at 32: every batch claim
    # of the paper holds, including BN's small lead at 32 images.
    errors = {"BN @32": [30, 30.5, 29.5], "BN @2": [40, 41, 39], "GN @32": [32, 32.5, 31.5],
              "GN @2": [32, 32.5, 31.5]}
    records = _records("batch", errors)
    for claim in CLAIMS:
        if claim.study == "batch":
            assert "**reproduced**" in claim_line(claim, records, True), claim.text
    growth = claim_line(_claim("GN's error grows less than BN's from 32 to 2 images per batch"),
                        records, True)
    assert "+10.0 points of top-1 error" in growth


def test_transfer_claims_expect_bn_star_to_lose_more_from_small_batch_pretraining():
    # BN* loses 10 box AP with the backbone pretrained at 2 images per batch, GN loses 1.
    aps = {"BN* from @32": [20, 21, 19], "BN* from @2": [10, 11, 9], "GN from @32": [20, 21, 19],
           "GN from @2": [19, 20, 18]}
    records = _records("transfer", aps)
    lines = [claim_line(claim, records, True) for claim in CLAIMS if claim.study == "transfer"]
    assert len(lines) == 2 and all("**reproduced**" in line for line in lines)
    assert "+9.0 box AP" in lines[0] and "+9.0 box AP" in lines[1]


def test_plan_trains_each_distinct_run_once_pretraining_first_seed_by_seed():
    cells, runs = plan(studies(DEFAULT_SCHEDULE), seeds=3)
    names = [run_name(run) for run in runs]
    assert len(names) == len(set(names))
    # Per seed: 10 pretraining runs (BN and GN at 5 batch sizes), 4 + 2 fine-tuning runs (the
    # transfer study's @32 cells are the 1x ones), 7 distinct from-scratch runs (GN is the
    # reference cell of three studies).
    assert len(runs) == 3 * (10 + 6 + 7)
    assert [run.seed for run in runs] == sorted(run.seed for run in runs)
    for position, run in enumerate(runs):
        if isinstance(run, Detection) and run.pretrained:
            assert names.index(run_name(run.pretrained)) < position
    assert cells["scratch", "GN", 1] == cells["box_head", "GN", 1] == cells["groups", "G=8", 1]
    assert cells["finetune", "GN 1x", 2].pretrained == cells["batch", "GN @32", 2]
    assert cells["transfer", "BN* from @2", 2].pretrained == cells["batch", "BN @2", 2]
    assert cells["transfer", "GN from @32", 1] == cells["finetune", "GN 1x", 1]
    assert run_name(cells["groups", "1 ch/group (IN)", 0]) == (
        "res-GN_fpn-GN_box-GN_mask-GN_1ch-per-group_freeze0_4800im_scratch_seed0")
    assert run_name(cells["finetune", "BN* 1.5x", 0]) == (
        "res-FrozenBN_fpn-none_box-none_mask-none_freeze2_2400im_"
        "pretrain-BN_ims32_ep5_lr0.1_seed0_seed0")
    assert run_name(cells["batch", "BN @2", 0]) == "pretrain-BN_ims2_ep5_lr0.00625_seed0"


def test_pretraining_batch_sizes_scale_the_lr_linearly_at_the_same_epochs():
    cells, _ = plan(studies(DEFAULT_SCHEDULE), seeds=1)
    runs = [cells["batch", f"{norm} @{b}", 0] for norm in ("BN", "GN") for b in (32, 8, 2)]
    assert {run.epochs for run in runs} == {DEFAULT_SCHEDULE.pretraining_epochs}
    assert all(isinstance(run, Pretraining) and run.lr == pytest.approx(
        DEFAULT_SCHEDULE.pretraining_lr_at_32 * run.images_per_batch / 32) for run in runs)


def test_estimated_wall_time_hands_runs_to_the_first_free_worker():
    _, runs = plan(studies(QUICK_SCHEDULE, quick=True), seeds=1)
    one = estimated_wall_seconds(runs, 8, workers=1)
    two = estimated_wall_seconds(runs, 8, workers=2)
    assert one / 2 <= two < one
