"""`edge-scan scan --report FILE.html`: one self-contained page a health worker can show, print or send.

Offline by construction: the X-rays and heatmaps are PNG data URIs, the CSS is
inline, there is no script and no web font, so the page opens from a USB stick
on any browser with no network and prints the same everywhere. On paper (A4)
each child starts a new page, so it works as a referral slip to hand over with
the child. All text from files and the command line is HTML-escaped, and so is
every translated sentence, before the values are put in it.

The page is written in the language asked for (English by default, the source text): every sentence
comes from the catalogues, dates and numbers follow the language's locale. The detailed reason stored
with a rejected image is an English sentence made at scan time, so a page in another language shows the
catalogue's explanation of the reason and what to do instead.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from edge_app.contract import POSITIVE_LABEL
from edge_app.files import atomic_write
from edge_app.inference.heatmap import describe_strength
from edge_app.inference.model_store import ScanModel
from edge_app.language import DEFAULT_LANGUAGE, N_, format_datetime, format_number, language_code, translator
from edge_app.outputs.clinic_outputs import ExplainedResult
from edge_app.outputs.output import DISCLAIMER
from edge_app.reasons import explain, what_to_do
from edge_app.record import OK, ScanResult
from edge_app.scan.scanner import describe_correction
from edge_app.scoring import UNCERTAIN_MARGIN

THRESHOLD_SOURCES = {
    "model": N_("the model's own threshold"),
    "site": N_("this site's calibration (edge-scan calibrate)"),
    "command_line": N_("set for this scan with --threshold"),
}

PART_SCANS = 200
"""X-rays on one page of a streamed report: about 20 MB of page (2,000 X-rays made 10 pages of 19-21 MB),
which any browser opens and prints."""

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

_HEATMAP_NOTE = N_(
    "Heatmap: red marks where covering the image lowered the model's pneumonia score the most. It shows what "
    "the score depended on, not where pneumonia is; an uncoloured area is not proof of healthy lung."
)


@dataclass(frozen=True)
class _Words:
    """The page's language: its code, for numbers and dates, and its gettext."""

    language: str

    @property
    def gettext(self) -> Callable[[str], str]:
        return translator(self.language).gettext

    def number(self, value: float, decimals: int) -> str:
        return format_number(value, self.language, decimals, grouping=False)

    def time(self, moment: datetime) -> str:
        return format_datetime(moment, self.language)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _html(sentence: str, **values: str) -> str:
    """A translated sentence, escaped, with `values` (HTML already) put in its placeholders."""
    return _e(sentence).format(**values)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def verdict_words(result: ScanResult, gettext: Callable[[str], str] = str) -> tuple[str, str]:
    """(sentence, css class) a health worker reads first, in the language `gettext` translates to."""
    if result.label == POSITIVE_LABEL:
        # Translators: the printed slip's verdicts start with the headline words the screen shows.
        return gettext("PNEUMONIA suspected: refer the child to a clinician today."), "refer"
    if result.uncertain:
        return gettext("Uncertain: the score is close to the threshold. Refer the child to a clinician."), "refer"
    return gettext("NORMAL: the screening found no sign of pneumonia. Refer anyway if the child is unwell."), "normal"


def _score_bar(score: int, words: _Words) -> str:
    low, high = 50 - UNCERTAIN_MARGIN, 50 + UNCERTAIN_MARGIN
    fill = "fill low" if score < 50 else "fill"
    label = _html(words.gettext("score {score} of 100"), score=str(score))
    threshold = _e(words.gettext("threshold 50"))
    return (
        f'<div class="bar" role="img" aria-label="{label}">'
        f'<div class="{fill}" style="width:{score}%"></div>'
        f'<div class="band" style="left:{low}%;width:{high - low}%"></div>'
        f'<div class="mark" style="left:50%"><span>{threshold}</span></div></div>'
    )


def _images(item: ExplainedResult, words: _Words) -> str:
    explanation = item.explanation
    if explanation is None:
        return ""
    xray, heatmap = _e(words.gettext("X-ray")), _e(words.gettext("heatmap"))
    strength = _e(describe_strength(explanation.max_logit_drop, words.gettext, lambda factor: words.number(factor, 1)))
    caption = _html(words.gettext("Heatmap: {strength}."), strength=strength)
    return (
        '<div class="images">'
        f'<figure><img alt="{xray}" src="{_data_uri(explanation.image_png)}"><figcaption>{xray}</figcaption></figure>'
        f'<figure><img alt="{heatmap}" src="{_data_uri(explanation.overlay_png)}">'
        f"<figcaption>{caption}</figcaption></figure></div>"
    )


def _scan_card(item: ExplainedResult, words: _Words) -> str:
    result, gettext = item.result, words.gettext
    sentence, css = verdict_words(result, gettext)
    flags = "".join(
        f'<span class="flag">{_e(flag)}</span>'
        for flag, on in ((gettext("uncertain"), result.uncertain), (gettext("REFER"), result.refer))
        if on
    )
    score = _html(
        gettext("Score {score} of 100 (50 = threshold; {low}-{high} = uncertain, refer)."),
        score=f"<b>{result.score}</b>",
        low=str(50 - UNCERTAIN_MARGIN),
        high=str(50 + UNCERTAIN_MARGIN),
    )
    odds = _html(
        gettext("Pneumonia probability {probability}, threshold {threshold}."),
        probability=words.number(result.probability, 3),
        threshold=words.number(result.threshold, 3),
    )
    note = describe_correction(result.correction, gettext)  # what was changed before scanning, if anything
    where = [_html(gettext("File: {path}"), path=_e(result.path))]
    where.append(_html(gettext("scanned {time}"), time=_e(words.time(datetime.fromisoformat(result.scanned_at)))))
    if result.study_uid:
        where.append(_html(gettext("DICOM study {uid}"), uid=_e(result.study_uid)))
    return (
        f'<div class="scan"><div class="verdict {css}">{_e(sentence)}{flags}</div>'
        f"<div>{score} {odds}</div>{_score_bar(result.score, words)}{_images(item, words)}"
        + (f'<p class="note">{_e(note)}</p>' if note else "")
        + f'<div class="file">{" · ".join(where)}</div></div>'
    )


def _rejection_detail(result: ScanResult, words: _Words) -> str:
    """The stored English sentence on an English page; the catalogue's explanation and next step otherwise."""
    if words.language == DEFAULT_LANGUAGE:
        return _e(result.message)
    explanation = explain(result.reason, words.gettext)
    return _e(f"{explanation[:1].upper()}{explanation[1:]}. {what_to_do(result.reason, words.gettext)}".strip())


def _rejected_row(result: ScanResult, words: _Words) -> str:
    return (
        f"<tr><td class='file'>{_e(result.path)}</td><td>{_e(result.reason)}</td>"
        f"<td>{_rejection_detail(result, words)}</td></tr>"
    )


def _rejected_table(rows: list[str], words: _Words) -> str:
    if not rows:
        return ""
    gettext = words.gettext
    heading = _html(gettext("Not scanned ({count})"), count=str(len(rows)))
    intro = _e(gettext("These files were not screened; the reason says what to do."))
    columns = "".join(
        f"<th>{_e(name)}</th>" for name in (gettext("File"), gettext("Reason"), gettext("What was wrong / what to do"))
    )
    return f"<h2>{heading}</h2><p>{intro}</p><table class='rejected'><tr>{columns}</tr>{''.join(rows)}</table>"


def _facts(model: ScanModel, patient: str | None, operator: str | None, generated: str, words: _Words) -> str:
    gettext = words.gettext
    source = model.threshold_source
    source = gettext(THRESHOLD_SOURCES[source]) if source in THRESHOLD_SOURCES else source
    not_given = gettext("not given")
    rows = [
        (gettext("Patient ID"), patient or not_given),
        (gettext("Operator"), operator or not_given),
        (gettext("Date"), generated),
        (
            gettext("Threshold"),
            gettext("{threshold} ({source}); shown as score 50").format(
                threshold=words.number(model.threshold, 3), source=source
            ),
        ),
        (
            gettext("Model"),
            gettext("version {version}, runtime {runtime}; {integrity}").format(
                version=model.version, runtime=model.runtime, integrity=model.describe_integrity(gettext)
            ),
        ),
    ]
    cells = "".join(f"<tr><td>{_e(name)}</td><td>{_e(value)}</td></tr>" for name, value in rows)
    sha_name = _e(gettext("Model SHA-256"))
    return f"<table class='facts'>{cells}<tr><td>{sha_name}</td><td class='hash'>{_e(model.sha256)}</td></tr></table>"


@dataclass
class _Child:
    """One patient's part of a report: the HTML of each card (or where it lies) and of each rejected row."""

    cards: list = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    referred: int = 0


@dataclass(frozen=True)
class _Heading:
    model: ScanModel
    operator: str | None
    generated: str
    words: _Words


def _add(children: dict[str | None, _Child], item: ExplainedResult, card: object, words: _Words) -> None:
    child = children.setdefault(item.result.patient_id, _Child())
    if item.result.status == OK:
        child.cards.append(card)
        child.referred += bool(item.result.refer)
    else:
        child.rejected.append(_rejected_row(item.result, words))


def _section(
    patient: str | None, child: _Child, heading: _Heading, cards: Iterable[str], rows: list[str]
) -> Iterator[str]:
    """One child's section, in pieces: a page of a split report may hold only some of the child's cards."""
    gettext = heading.words.gettext
    summary = gettext("{screened} X-ray(s) screened, {referred} to refer, {rejected} not scanned.").format(
        screened=len(child.cards), referred=child.referred, rejected=len(child.rejected)
    )
    title, disclaimer, note = gettext("PneumoScan screening report"), gettext(DISCLAIMER), gettext(_HEATMAP_NOTE)
    facts = _facts(heading.model, patient, heading.operator, heading.generated, heading.words)
    yield (
        f'<section class="child"><h1>{_e(title)}</h1>'
        f'<div class="aid">{_e(disclaimer)}</div>{facts}<p><b>{_e(summary)}</b></p>'
    )
    yield from cards
    yield _rejected_table(rows, heading.words) + f'<p class="note">{_e(note)}</p></section>'


def _page_start(words: _Words, note: str = "") -> str:
    title = _e(words.gettext("PneumoScan screening report"))
    return (
        f'<!DOCTYPE html><html lang="{words.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>" + (f'<p class="aid">{_e(note)}</p>' if note else "")
    )


_PAGE_END = "</body></html>\n"


def render_report(
    items: Iterable[ExplainedResult],
    model: ScanModel,
    operator: str | None,
    generated: str,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The whole page in memory, for a few results (the app's screening): one section (one printed page or
    more) per patient ID, in scan order.

    `generated` is the date line as it should read (see `report_date`); `language` any code or tag,
    English when unknown."""
    words = _Words(language_code(language))
    children: dict[str | None, _Child] = {}
    for item in items:
        _add(children, item, _scan_card(item, words) if item.result.status == OK else None, words)
    heading = _Heading(model, operator, generated, words)
    sections = (
        "".join(_section(patient, child, heading, child.cards, child.rejected)) for patient, child in children.items()
    )
    return _page_start(words) + "".join(sections) + _PAGE_END


def report_date(language: str = DEFAULT_LANGUAGE) -> str:
    """Now, as the report's date line reads in `language`."""
    return format_datetime(datetime.now(), language)


class StreamedReport:
    """The report of a batch of any size (`edge-scan scan --report`), kept on disk as it is scanned and
    written in pages.

    Each scanned X-ray's card (its pictures as data URIs, some 50-100 KB) goes to a spool file beside the
    report as soon as it is explained, so memory holds only where each card lies. The report is then
    written as pages of at most `part_scans` X-rays each (report.html, report-2.html, ...), a child's cards
    in one section, continued on the next page when they do not fit: each page opens in a browser and
    prints, whatever the number of files scanned.
    """

    def __init__(self, path: Path, model: ScanModel, operator: str | None, language: str = DEFAULT_LANGUAGE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        words = _Words(language_code(language))
        self.heading = _Heading(model, operator, report_date(words.language), words)
        self.spool = tempfile.TemporaryFile(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".spool")
        self.children: dict[str | None, _Child] = {}
        self.part_scans = PART_SCANS

    def add(self, item: ExplainedResult) -> None:
        where = None
        if item.result.status == OK:
            card = _scan_card(item, self.heading.words).encode("utf-8")
            where = (self.spool.seek(0, io.SEEK_END), len(card))
            self.spool.write(card)
        _add(self.children, item, where, self.heading.words)

    def write(self) -> list[Path]:
        """Write every page atomically (an interrupted write leaves no half page); the pages' paths."""
        parts = self._parts()
        stem, suffix = self.path.stem, self.path.suffix
        paths = [self.path] + [self.path.with_name(f"{stem}-{number}{suffix}") for number in range(2, len(parts) + 1)]
        gettext = self.heading.words.gettext
        for number, (part, path) in enumerate(zip(parts, paths, strict=True), start=1):
            note = ""
            if len(parts) > 1:
                note = gettext("Page {number} of {count} of this report ({files}).").format(
                    number=number, count=len(parts), files=", ".join(page.name for page in paths)
                )
            atomic_write(path, lambda tmp, part=part, note=note: self._write_part(tmp, part, note))
        self.spool.close()
        return paths

    def _parts(self) -> list[list[tuple[str | None, _Child, list, bool]]]:
        """Per page: (patient, child, the child's cards on this page, whether the child's section ends here)."""
        parts: list[list] = [[]]
        room = self.part_scans
        for patient, child in self.children.items():
            start = 0
            while True:
                if room == 0:
                    parts.append([])
                    room = self.part_scans
                cards = child.cards[start : start + room]
                start, room = start + len(cards), room - len(cards)
                last = start >= len(child.cards)
                parts[-1].append((patient, child, cards, last))
                if last:
                    break
        return parts

    def _write_part(self, tmp: Path, part: list, note: str) -> None:
        with open(tmp, "w", encoding="utf-8") as page:
            page.write(_page_start(self.heading.words, note))
            for patient, child, cards, last in part:
                rows = child.rejected if last else []
                for piece in _section(patient, child, self.heading, map(self._card, cards), rows):
                    page.write(piece)
            page.write(_PAGE_END)

    def _card(self, where: tuple[int, int]) -> str:
        self.spool.seek(where[0])
        return self.spool.read(where[1]).decode("utf-8")
