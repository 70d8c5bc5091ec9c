"""Screenings made in the app: one batch of uploads scanned by one worker thread, in order.

Each result is committed to the history (storage.history.record) before the page can
show it, through the same scan_prepared_files that edge-scan scan uses. A screening is named by
the token of the form that sent it, claimed with an exclusive create, so a reload, a
double click or a back button finds the screening already made instead of scanning twice.
While it runs, its state (which history rows, which files refused) is kept in memory and pages read it
there; the JSON file that outlives the server is written atomically when the screening is claimed, after
each image that has another behind it, and at the end, so a one-image screening writes it twice, not four
times, and a stopped server still leaves every finished image linked. Heatmaps are kept per history row.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from edge_app.app.uploads import Upload
from edge_app.files import JsonFileError, atomic_write_bytes, atomic_write_text, read_json_file
from edge_app.record import ScanResult, now_utc

TOKEN = re.compile(r"^[0-9a-f]{32}$")
DISK_FULL, FAILED, INTERRUPTED, MODEL_UNUSABLE = "disk_full", "failed", "interrupted", "model_unusable"
MAX_STATE_BYTES = 2**20
"""A screening's state lists its files and scan ids: a few KB for the most images a screening takes."""


@dataclass(frozen=True)
class Job:
    token: str
    uploads: list[Upload]
    folder: Path
    patient_id: str | None
    operator: str | None
    heatmaps: bool
    photos: bool = False
    """The images are phone photos of films (edge-scan scan --photo)."""


class Screenings:
    """The state files, the heatmap store, and the single scanning thread."""

    def __init__(self, data_folder: Path) -> None:
        self.states = data_folder / "app" / "screenings"
        self.images = data_folder / "app" / "heatmaps"
        self._queue: queue.Queue[Job] = queue.Queue()
        self._live: dict[str, dict] = {}
        """The state of each screening this server claimed, until its file holds the last state; replaced, never
        mutated, so a page can read it without the lock."""
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._model = None
        self._db: sqlite3.Connection | None = None
        self._model_files: tuple | None = None

    def state_path(self, token: str) -> Path:
        if not TOKEN.match(token):
            raise KeyError(token)
        return self.states / f"{token}.json"

    def claim(self, token: str, patient_id: str | None, operator: str | None, received: float) -> bool:
        """Reserve `token` for one screening; False when a screening already has it. `received` (time.time()
        when the form arrived) and the `finished` time written at the end say how long the server took."""
        self.states.mkdir(parents=True, exist_ok=True)
        state = {
            "created_at": now_utc(),
            "received": received,
            "patient_id": patient_id,
            "operator": operator,
            "files": [],
            "refused": [],
            "ids": [],
        }
        state |= {"done": False, "stopped": None}
        try:
            with self.state_path(token).open("x", encoding="utf-8") as file:
                json.dump(state, file)
        except FileExistsError:
            return False
        with self._lock:
            self._live[token] = state
        return True

    def submit(self, job: Job) -> None:
        files = [upload.label for upload in job.uploads]
        self._update(job.token, {"files": files, "refused": [u.label for u in job.uploads if u.path is None]})
        self._queue.put(job)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="pneumoscan-scanner", daemon=True)
                self._thread.start()

    def abandon(self, token: str, stopped: str) -> None:
        """A claimed screening that will never run (its upload failed)."""
        self._finish(token, {"stopped": stopped})

    def state(self, token: str) -> dict:
        """The screening's state; `stopped` says `interrupted` when a previous server stopped before the end."""
        path = self.state_path(token)
        with self._lock:
            live = self._live.get(token)
        if live is not None:
            return live
        state = read_json_file(path, MAX_STATE_BYTES)  # written in full before the token left _live
        if not state["done"] and not state["stopped"]:
            state["stopped"] = INTERRUPTED
        return state

    def wait(self, token: str, seconds: float) -> None:
        """Return once the screening has ended (scanned to the end, or stopped), or after `seconds`."""

        def ended() -> bool:
            state = self._live.get(token)
            return state is None or state["done"] or bool(state["stopped"])

        with self._finished:
            self._finished.wait_for(ended, seconds)

    def _update(self, token: str, changes: dict, save: bool = False) -> None:
        """Change a running screening's state; `save` also writes it to its file."""
        with self._lock:
            state = self._live[token] = self._live[token] | changes
        if save:
            atomic_write_text(self.state_path(token), json.dumps(state))

    def _finish(self, token: str, ending: dict) -> None:
        """Write the screening's last state; pages then read it from its file, or, when the file cannot be
        written (a full disk), from memory until the server stops (the results are in the history)."""
        saved = True
        try:
            self._update(token, ending, save=True)
        except OSError:
            saved = False
        with self._finished:
            if saved:
                del self._live[token]
            self._finished.notify_all()

    def heatmap(self, row_id: int, kind: str) -> Path:
        return self.images / f"{int(row_id)}.{kind}.png"

    def heatmap_strength(self, row_id: int) -> float | None:
        try:
            return float(read_json_file(self.images / f"{int(row_id)}.json", MAX_STATE_BYTES)["max_logit_drop"])
        except (JsonFileError, KeyError, TypeError, ValueError):
            return None

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            stopped = FAILED
            try:
                stopped = self._run(job)
            except Exception:  # one failed batch must not stop the scanner for everyone
                logging.getLogger(__name__).exception("screening %s failed", job.token)
            finally:
                shutil.rmtree(job.folder, ignore_errors=True)
                self._finish(job.token, {"done": stopped is None, "stopped": stopped, "finished": time.time()})

    def _run(self, job: Job) -> str | None:
        """Scan the batch; None when it ran to the end, else why it stopped."""
        from edge_app.storage import history

        model = self._model_for_scanning()
        if model is None:
            return MODEL_UNUSABLE
        try:
            db = self._history()
        except history.HistoryError as exc:
            return DISK_FULL if isinstance(exc, history.DiskFull) else FAILED
        try:
            self._scan(job, model, db)
        except (sqlite3.Error, OSError) as exc:
            self._db = None  # opened afresh for the next screening
            db.close()
            return DISK_FULL if history.is_disk_full(exc) else FAILED
        return None

    def _history(self) -> sqlite3.Connection:
        """The scanner thread's connection to the history, kept open between screenings (every result is
        still its own committed transaction); opened again if the history file was replaced."""
        from edge_app.storage import history
        from edge_app.storage.paths import history_path

        path = history_path()
        if self._db is None or not path.exists():
            if self._db is not None:
                self._db.close()
            self._db = history.connect(path)
        return self._db

    def _model_for_scanning(self):
        """The model the next scan uses, loaded again only when the model file or the site profile changed
        (an update, a rollback, a calibration), so a one-image screening does not pay for loading it."""
        files = _model_files()
        if self._model is None or files != self._model_files:
            self._model, self._model_files = load_scan_model(), files
        return self._model

    def _scan(self, job: Job, model, db: sqlite3.Connection) -> None:
        from edge_app.outputs.clinic_outputs import ClinicOutputs
        from edge_app.scan.scanner import ScanContext, scan_prepared_files
        from edge_app.storage import history

        scanned = [upload for upload in job.uploads if upload.path is not None]
        labels = iter(upload.label for upload in scanned)
        outputs = ClinicOutputs(model, None) if job.heatmaps else None
        ids: list[int] = []

        def record(result: ScanResult) -> None:
            ids.append(history.record(db, replace(result, path=next(labels))))

        context = ScanContext(job.patient_id, job.operator)
        keep = outputs is not None
        scans = scan_prepared_files(
            [u.path for u in scanned], model, context, record, keep_images=keep, photos=job.photos
        )
        for done in scans:
            if outputs is not None:
                self._keep_heatmap(ids[-1], outputs.add(done).explanation)
            self._update(job.token, {"ids": list(ids)}, save=len(ids) < len(scanned))  # the last: saved at the end

    def _keep_heatmap(self, row_id: int, explanation) -> None:
        if explanation is None:
            return
        atomic_write_bytes(self.heatmap(row_id, "xray"), explanation.image_png)
        atomic_write_bytes(self.heatmap(row_id, "overlay"), explanation.overlay_png)
        atomic_write_text(self.images / f"{row_id}.json", json.dumps({"max_logit_drop": explanation.max_logit_drop}))


def _model_files() -> tuple:
    """What decides the scanning model and its threshold, as (path, size, modification time) of each file."""
    from edge_app.inference.model_store import ModelError, default_model_path
    from edge_app.site.site_profile import active_profile_path

    try:
        model_path = default_model_path()
    except ModelError:
        return ()  # a damaged pointer: loading says why, every time until it is repaired
    found = []
    for path in (model_path, active_profile_path()):
        try:
            stat = path.stat()
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
        except OSError:
            found.append((str(path), None, None))
    return tuple(found)


def load_scan_model():
    """The model edge-scan scan would use now: the active one, with this site's calibrated threshold."""
    return current_model()[0]


def current_model() -> tuple:
    """(model, warning about the site calibration, None), or (None, None, why no model can be used)."""
    from edge_app.inference.model_store import ModelError, load_model
    from edge_app.site.threshold_choice import resolve_threshold

    try:
        model = load_model()
    except ModelError as exc:
        return None, None, str(exc)
    choice = resolve_threshold(model)
    return model.using(choice), choice.warning, None
