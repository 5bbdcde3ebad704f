"""Fit the abstention thresholds on a team's own labelled questions (`kbqa calibrate`).

The default thresholds were fitted on this project's corpus; on another KB the confidence of answerable and
out-of-KB questions sits elsewhere, and a threshold that refused nothing in the KB here refuses 8-17% of
answerable questions there (eval/README.md). A team that labels some of its own questions (an eval set, or
`kbqa feedback export` once reviewed) gets thresholds fitted to its KB, with the trade-off curve to check them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import CalibrationError
from rag.evaluation.metrics import best_threshold
from rag.evaluation.run import EvalItem

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

_STEPS = 101


@dataclass(frozen=True)
class Point:
    threshold: float
    false_refusals: float  # share of answerable questions refused at this threshold
    out_of_kb_refused: float  # share of out-of-KB questions refused


@dataclass(frozen=True)
class Calibration:
    abstain_threshold: float
    low_confidence_threshold: float
    answerable: int
    unanswerable: int
    curve: list[Point]
    chosen: Point

    def summary(self) -> dict[str, Any]:
        return {
            "abstain_threshold": self.abstain_threshold,
            "low_confidence_threshold": self.low_confidence_threshold,
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "false_refusals": self.chosen.false_refusals,
            "out_of_kb_refused": self.chosen.out_of_kb_refused,
        }


def confidences(
    pipeline: Pipeline, items: Sequence[EvalItem], progress: Callable[[int, int], None] | None = None
) -> tuple[list[float], list[float]]:
    """The answer confidence of every labelled question: (answerable, out of the KB)."""
    answerable: list[float] = []
    unanswerable: list[float] = []
    for done, item in enumerate(items, 1):
        confidence = pipeline.ask(item.question).confidence
        (answerable if item.answerable else unanswerable).append(confidence)
        if progress:
            progress(done, len(items))
    return answerable, unanswerable


def fit(answerable: Sequence[float], unanswerable: Sequence[float], min_refused: float | None = None) -> Calibration:
    """Thresholds from labelled confidences.

    ``abstain_threshold``: the cut with the best balanced accuracy (the middle of the widest tied range), or,
    with ``min_refused``, the lowest cut that refuses at least that share of the out-of-KB questions.
    ``low_confidence_threshold``: just above every out-of-KB confidence seen, so "answered" is only said where
    no out-of-KB question reached; at most 0.1 above the abstention cut.
    """
    if len(answerable) < 5 or len(unanswerable) < 3:
        raise CalibrationError(
            f"{len(answerable)} answerable and {len(unanswerable)} out-of-KB questions are too few to fit "
            "thresholds; label at least 5 answerable and 3 out-of-KB questions (more is better: 50 and 15)."
        )
    curve = [_point(i / (_STEPS - 1), answerable, unanswerable) for i in range(_STEPS)]
    if min_refused is None:
        cut, _ = best_threshold(answerable, unanswerable)
    else:
        reaching = [p.threshold for p in curve if p.out_of_kb_refused >= min_refused]
        cut = reaching[0] if reaching else 1.0
    cut = round(cut, 3)
    low = round(min(max(cut, max(unanswerable) + 0.01), cut + 0.1, 1.0), 3)
    return Calibration(cut, low, len(answerable), len(unanswerable), curve, _point(cut, answerable, unanswerable))


def _point(threshold: float, answerable: Sequence[float], unanswerable: Sequence[float]) -> Point:
    refused = sum(c < threshold for c in answerable) / len(answerable)
    out = sum(c < threshold for c in unanswerable) / len(unanswerable)
    return Point(round(threshold, 3), round(refused, 4), round(out, 4))


def write_thresholds(config: Path, calibration: Calibration) -> None:
    """Set both thresholds in a kbqa.toml, keeping every other line (and comment) as it was."""
    text = config.read_text(encoding="utf-8") if config.is_file() else ""
    lines = text.splitlines()
    for key in ("abstain_threshold", "low_confidence_threshold"):
        value = f"{key} = {getattr(calibration, key)}  # kbqa calibrate"
        pattern = re.compile(rf"^\s*{key}\s*=")
        top_level_end = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
        found = next((i for i in range(top_level_end) if pattern.match(lines[i])), None)
        if found is None:
            lines.insert(top_level_end, value)
        else:
            lines[found] = value
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def render_report(calibration: Calibration, source: str) -> str:
    """An HTML page with the trade-off curve (both refusal rates against the threshold) and the chosen cut."""
    width, height, pad = 560, 300, 40

    def xy(threshold: float, rate: float) -> str:
        return f"{pad + threshold * (width - 2 * pad):.1f},{height - pad - rate * (height - 2 * pad):.1f}"

    lines = {
        "#cf222e": [xy(p.threshold, p.false_refusals) for p in calibration.curve],
        "#1a7f37": [xy(p.threshold, p.out_of_kb_refused) for p in calibration.curve],
    }
    paths = "".join(
        f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{' '.join(points)}'/>"
        for colour, points in lines.items()
    )
    cut_x = pad + calibration.abstain_threshold * (width - 2 * pad)
    rows = "".join(
        f"<tr><td>{p.threshold:.2f}</td><td>{p.false_refusals:.3f}</td><td>{p.out_of_kb_refused:.3f}</td></tr>"
        for p in calibration.curve[::5]
    )
    chosen = calibration.chosen
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>kbqa calibration</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 2em; }} td, th {{ padding: 2px 8px; }}</style></head><body>
<h1>kbqa calibration</h1>
<p>{calibration.answerable} answerable and {calibration.unanswerable} out-of-KB questions from
<code>{html.escape(source)}</code>. Chosen <b>abstain_threshold {calibration.abstain_threshold}</b>
(refuses {chosen.false_refusals:.1%} of answerable and {chosen.out_of_kb_refused:.1%} of out-of-KB questions) and
<b>low_confidence_threshold {calibration.low_confidence_threshold}</b>.</p>
<svg width="{width}" height="{height}" role="img" aria-label="refusal rates against the threshold">
<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#57606a"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#57606a"/>
<line x1="{cut_x:.1f}" y1="{pad}" x2="{cut_x:.1f}" y2="{height - pad}" stroke="#0969da" stroke-dasharray="4"/>
{paths}
<text x="{pad}" y="{height - 10}" font-size="12">threshold 0 … 1</text>
<text x="4" y="{pad + 4}" font-size="12">100%</text><text x="14" y="{height - pad}" font-size="12">0%</text>
<text x="{pad + 4}" y="{pad - 8}" font-size="12" fill="#cf222e">answerable questions refused</text>
<text x="{pad + 230}" y="{pad - 8}" font-size="12" fill="#1a7f37">out-of-KB questions refused</text>
</svg>
<table><tr><th>threshold</th><th>answerable refused</th><th>out-of-KB refused</th></tr>{rows}</table>
</body></html>
"""
