"""The paper's claims in miniature: CPU ablations on the shapes sets (used by tools/ablate.py)."""
from .report import write_report
from .runner import estimated_wall_seconds, plan, run_all, unfinished
from .runs import quick_classification_set, run_name, train_run
from .studies import CLAIMS, DEFAULT_SCHEDULE, QUICK_SCHEDULE, Detection, Pretraining, studies

__all__ = [
    "CLAIMS",
    "DEFAULT_SCHEDULE",
    "QUICK_SCHEDULE",
    "Detection",
    "Pretraining",
    "estimated_wall_seconds",
    "plan",
    "quick_classification_set",
    "run_all",
    "run_name",
    "studies",
    "train_run",
    "unfinished",
    "write_report",
]
