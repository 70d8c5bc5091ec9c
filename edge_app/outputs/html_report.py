"""`edge-scan scan --report FILE.html`: one self-contained page a health worker can show, print or send.

Offline by construction: the X-rays and heatmaps are PNG data URIs, the CSS is
inline, there is no script and no web font, so the page opens from a USB stick
on any browser with no network and prints the same everywhere. On paper (A4)
each child starts a new page, so it works as a referral slip to hand over with
the child. All text from files and the command line is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from edge_app.contract import POSITIVE_LABEL
from edge_app.files import atomic_write_text
from edge_app.inference.heatmap import describe_strength
from edge_app.inference.model_store import ScanModel
from edge_app.outputs.clinic_outputs import ExplainedResult
from edge_app.outputs.output import DISCLAIMER
from edge_app.record import OK, ScanResult
from edge_app.scoring import UNCERTAIN_MARGIN

THRESHOLD_SOURCES = {
    "model": "the model's own threshold",
    "site": "this site's calibration (edge-scan calibrate)",
    "command_line": "set for this scan with --threshold",
}

_CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #111; margin: 0 auto; max-width: 190mm;
       font-size: 10.5pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.child { break-after: page; page-break-after: always; padding: 4mm 0; }
.child:last-of-type { break-after: auto; page-break-after: auto; }
h1 { font-size: 16pt; margin: 0 0 2mm; } h2 { font-size: 13pt; margin: 3mm 0 2mm; }
.aid { border: 2px solid #b00; background: #fff3f3; padding: 2mm 3mm; font-weight: bold; margin: 2mm 0; }
table.facts { border-collapse: collapse; margin: 2mm 0; } .facts td { padding: 0.5mm 3mm 0.5mm 0; vertical-align: top; }
.facts td:first-child { color: #555; white-space: nowrap; } .hash { font-family: monospace; font-size: 8pt; }
.scan { border: 1px solid #999; border-radius: 2mm; padding: 3mm; margin: 3mm 0; break-inside: avoid;
        page-break-inside: avoid; }
.verdict { font-size: 14pt; font-weight: bold; margin-bottom: 1mm; }
.refer { color: #b00; } .normal { color: #060; }
.flag { display: inline-block; border: 1px solid #b00; color: #b00; padding: 0 2mm; margin-left: 2mm; font-size: 9pt; }
.bar { position: relative; height: 5mm; background: #e5e5e5; border: 1px solid #777; margin: 2mm 0 5mm; }
.fill { position: absolute; left: 0; top: 0; bottom: 0; background: #c33; }
.fill.low { background: #3a3; }
.band { position: absolute; top: -1px; bottom: -1px; border: 1px dashed #333; }
.mark { position: absolute; top: -1.5mm; bottom: -1.5mm; width: 0; border-left: 2px solid #000; }
.mark span { position: absolute; top: 6mm; left: -10mm; width: 20mm; text-align: center; font-size: 7.5pt; }
.images { display: flex; gap: 3mm; align-items: flex-start; } .images figure { margin: 0; flex: 1; }
.images img { width: 100%; height: 50mm; object-fit: contain; background: #000; }
figcaption { font-size: 8.5pt; color: #444; } .file { font-size: 8.5pt; color: #555; word-break: break-all; }
table.rejected { border-collapse: collapse; width: 100%; } .rejected td, .rejected th { border: 1px solid #999;
  padding: 1mm 2mm; text-align: left; vertical-align: top; font-size: 9pt; }
.note { font-size: 8.5pt; color: #444; }
"""

_HEATMAP_NOTE = (
    "Heatmap: red marks where covering the image lowered the model's pneumonia score the most. It shows what "
    "the score depended on, not where pneumonia is; an uncoloured area is not proof of healthy lung."
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def verdict_words(result: ScanResult) -> tuple[str, str]:
    """(sentence, css class) a health worker reads first."""
    if result.label == POSITIVE_LABEL:
        return "PNEUMONIA suspected: refer the child to a clinician today.", "refer"
    if result.uncertain:
        return "Uncertain: the score is close to the threshold. Refer the child to a clinician.", "refer"
    return "NORMAL: the screening found no sign of pneumonia. Refer anyway if the child is unwell.", "normal"


def _score_bar(score: int) -> str:
    low, high = 50 - UNCERTAIN_MARGIN, 50 + UNCERTAIN_MARGIN
    fill = "fill low" if score < 50 else "fill"
    return (
        f'<div class="bar" role="img" aria-label="score {score} of 100">'
        f'<div class="{fill}" style="width:{score}%"></div>'
        f'<div class="band" style="left:{low}%;width:{high - low}%"></div>'
        '<div class="mark" style="left:50%"><span>threshold 50</span></div></div>'
    )


def _scan_card(item: ExplainedResult) -> str:
    result, explanation = item.result, item.explanation
    words, css = verdict_words(result)
    flags = "".join(
        f'<span class="flag">{flag}</span>'
        for flag, on in (("uncertain", result.uncertain), ("REFER", result.refer))
        if on
    )
    images = ""
    if explanation is not None:
        images = (
            '<div class="images">'
            f'<figure><img alt="X-ray" src="{_data_uri(explanation.image_png)}"><figcaption>X-ray</figcaption></figure>'
            f'<figure><img alt="heatmap" src="{_data_uri(explanation.overlay_png)}">'
            f"<figcaption>Heatmap: {_e(describe_strength(explanation.max_logit_drop))}.</figcaption></figure></div>"
        )
    return (
        f'<div class="scan"><div class="verdict {css}">{_e(words)}{flags}</div>'
        f"<div>Score <b>{result.score}</b> of 100 (50 = threshold; {50 - UNCERTAIN_MARGIN}-{50 + UNCERTAIN_MARGIN}"
        f" = uncertain, refer). Pneumonia probability {result.probability:.3f}, threshold {result.threshold:.3f}."
        f"</div>{_score_bar(result.score)}{images}"
        + (f'<p class="note">{_e(result.message)}</p>' if result.message else "")  # e.g. the gate turned it upright
        + f'<div class="file">File: {_e(result.path)} · scanned {_e(_local_time(result.scanned_at))}'
        + (f" · DICOM study {_e(result.study_uid)}" if result.study_uid else "")
        + "</div></div>"
    )


def _rejected_table(results: list[ScanResult]) -> str:
    if not results:
        return ""
    rows = "".join(
        f"<tr><td class='file'>{_e(r.path)}</td><td>{_e(r.reason)}</td><td>{_e(r.message)}</td></tr>" for r in results
    )
    return (
        f"<h2>Not scanned ({len(results)})</h2><p>These files were not screened; the reason says what to do.</p>"
        f"<table class='rejected'><tr><th>File</th><th>Reason</th><th>What was wrong / what to do</th></tr>"
        f"{rows}</table>"
    )


def _local_time(iso_utc: str) -> str:
    return datetime.fromisoformat(iso_utc).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _facts(model: ScanModel, patient: str | None, operator: str | None, generated: str) -> str:
    source = THRESHOLD_SOURCES.get(model.threshold_source, model.threshold_source)
    rows = [
        ("Patient ID", patient or "not given"),
        ("Operator", operator or "not given"),
        ("Date", generated),
        ("Threshold", f"{model.threshold:.3f} ({source}); shown as score 50"),
        ("Model", f"version {model.version}, runtime {model.runtime}; {model.integrity}"),
    ]
    cells = "".join(f"<tr><td>{_e(name)}</td><td>{_e(value)}</td></tr>" for name, value in rows)
    return (
        f"<table class='facts'>{cells}<tr><td>Model SHA-256</td><td class='hash'>{_e(model.sha256)}</td></tr></table>"
    )


def _child_section(
    patient: str | None, items: list[ExplainedResult], model: ScanModel, operator: str | None, generated: str
) -> str:
    scanned = [item for item in items if item.result.status == OK]
    referred = sum(1 for item in scanned if item.result.refer)
    summary = f"{len(scanned)} X-ray(s) screened, {referred} to refer, {len(items) - len(scanned)} not scanned."
    return (
        '<section class="child"><h1>PneumoScan screening report</h1>'
        f'<div class="aid">{_e(DISCLAIMER)}</div>{_facts(model, patient, operator, generated)}'
        f"<p><b>{_e(summary)}</b></p>"
        + "".join(_scan_card(item) for item in scanned)
        + _rejected_table([item.result for item in items if item.result.status != OK])
        + f'<p class="note">{_e(_HEATMAP_NOTE)}</p></section>'
    )


def _by_patient(items: Iterable[ExplainedResult]) -> dict[str | None, list[ExplainedResult]]:
    groups: dict[str | None, list[ExplainedResult]] = {}
    for item in items:
        groups.setdefault(item.result.patient_id, []).append(item)
    return groups


def render_report(items: list[ExplainedResult], model: ScanModel, operator: str | None, generated: str) -> str:
    """The whole page: one section (one printed page or more) per patient ID, in scan order."""
    sections = "".join(
        _child_section(patient, group, model, operator, generated) for patient, group in _by_patient(items).items()
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>PneumoScan screening report</title><style>{_CSS}</style></head><body>{sections}</body></html>\n"
    )


def write_report(path: Path, items: list[ExplainedResult], model: ScanModel, operator: str | None) -> Path:
    """Write the page atomically: an interrupted write never leaves half a report behind."""
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return atomic_write_text(path, render_report(items, model, operator, generated))
