"""`kbqa calibrate`: thresholds fitted to a team's labelled questions, written to kbqa.toml (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import CalibrationError
from rag.evaluation.calibration import fit, write_thresholds

ROOT = Path(__file__).resolve().parents[2]


def test_fit_balances_the_two_refusal_rates() -> None:
    answerable = [0.6, 0.62, 0.7, 0.75, 0.8, 0.41]
    unanswerable = [0.3, 0.35, 0.45]
    result = fit(answerable, unanswerable)
    assert 0.45 < result.abstain_threshold <= 0.6  # refuses every out-of-KB question, one answerable one
    assert result.chosen.out_of_kb_refused == 1.0 and result.chosen.false_refusals == pytest.approx(1 / 6, abs=1e-3)
    assert result.low_confidence_threshold >= result.abstain_threshold
    strict = fit(answerable, unanswerable, min_refused=0.6)  # the lowest cut refusing 2 of 3
    assert strict.abstain_threshold == pytest.approx(0.36) and strict.chosen.out_of_kb_refused >= 0.6
    with pytest.raises(CalibrationError, match="too few"):
        fit([0.5, 0.6], [0.1])


def test_write_thresholds_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    config = tmp_path / "kbqa.toml"
    config.write_text('# our KB\ncorpus_dir = "kb"\nabstain_threshold = 0.49\n\n[other]\nabstain_threshold = 1\n')
    write_thresholds(config, fit([0.6, 0.62, 0.7, 0.75, 0.8], [0.3, 0.35, 0.45]))
    text = config.read_text()
    assert text.startswith('# our KB\ncorpus_dir = "kb"\nabstain_threshold = 0.')
    assert "low_confidence_threshold = " in text.split("[other]")[0]
    assert text.rstrip().endswith("[other]\nabstain_threshold = 1")


@pytest.mark.integration
def test_kbqa_calibrate_writes_thresholds_that_kbqa_then_uses(kb: object, tmp_path: Path) -> None:
    """On eval/calibration.jsonl: the command prints the curve, writes kbqa.toml and an HTML report, and a
    later kbqa run in that folder reads the fitted thresholds."""
    index = str(kb.settings.index_dir)  # type: ignore[attr-defined]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "rag.cli",
        "--index-dir",
        index,
        "calibrate",
        str(ROOT / "eval" / "calibration.jsonl"),
    ]
    result = subprocess.run(
        [*command, "--write", "kbqa.toml", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    fitted = json.loads(result.stdout)
    assert fitted["answerable"] == 66 and fitted["unanswerable"] == 20
    assert fitted["out_of_kb_refused"] >= 0.9 and fitted["false_refusals"] <= 0.1
    assert "<svg" in (tmp_path / "kbqa-calibration.html").read_text()
    from rag.settings import load_settings

    settings = load_settings()  # the test runs in tmp_path (conftest), where kbqa.toml now is
    assert settings.abstain_threshold == fitted["abstain_threshold"]
    assert settings.low_confidence_threshold == fitted["low_confidence_threshold"]
