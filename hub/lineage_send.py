"""Sending OpenLineage events with the `openlineage-python` client: to an HTTP receiver (the
API key as a bearer token) or appended to a file, one JSON object per line.

Sending never fails a run: an event that cannot be sent (no connection, an error status, a
timeout) is tried once more after a short pause; when that fails too, the caller logs a
warning naming the receiver (never the key), and the rest of that Dagster run's events are
not sent, so a dead receiver costs a run at most two timeouts. A slow one that answers is cut
off the same way once a run's events took more than twice the timeout (5 s at least) in all.
The client's own retries are off (ours is the one retry), and so is its git
`sourceCodeLocation` facet (a remote URL may carry a token).
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunEvent

from hub.config import HubConfig, OpenLineageConfig
from hub.secrets import scrub

RETRY_PAUSE = 0.25
"Seconds before an event that could not be sent is tried again, once."


class Emitter:
    """The OpenLineage client hub.yaml configures, and the Dagster runs whose receiver failed."""

    def __init__(self, settings: OpenLineageConfig, root: Path, namespace: str) -> None:
        self.namespace = namespace
        self.receiver = _receiver(settings, root)
        self.client = OpenLineageClient(
            transport=_transport(settings, root),
            config={"facets": {"source_code_location": {"disabled": True}}},
        )
        self._failed: set[str] = set()
        self._spent: dict[str, float] = {}
        self.budget = max(5.0, 2 * settings.timeout_seconds)
        "Seconds a run's events may take to send in all; a slow receiver then gets no more."
        self.lost: list[str] = []
        "The warnings of the runs whose events were lost, in this process (`hub run` shows them)."
        self._lock = threading.Lock()

    def send(self, event: RunEvent, dagster_run_id: str) -> str | None:
        """Send one event, trying twice; a warning to log when it was lost (None when sent,
        or when an earlier event of the same Dagster run was lost and this one is skipped)."""
        with self._lock:
            if dagster_run_id in self._failed:
                return None
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                self.client.emit(event)
                break
            except Exception as exc:  # noqa: BLE001 - any failure of the receiver
                cause = _root_cause(exc)
                reason = scrub(f"{type(cause).__name__}: {cause}").splitlines()[0][:300]
                if attempt == 1:
                    time.sleep(RETRY_PAUSE)
        else:
            return self._give_up(
                dagster_run_id,
                f"the {event.eventType.value} event of {event.job.name} could not be sent to "
                f"{self.receiver} (tried twice): {reason}",
            )
        with self._lock:
            spent = self._spent[dagster_run_id] = (
                self._spent.get(dagster_run_id, 0.0) + time.monotonic() - started
            )
        if spent <= self.budget:
            return None
        return self._give_up(
            dagster_run_id,
            f"{self.receiver} took {spent:.1f} s in all to take this run's events, over the "
            f"budget of {self.budget:g} s (twice `timeout_seconds`, at least 5 s)",
        )

    def _give_up(self, dagster_run_id: str, what: str) -> str:
        """Send nothing more for this Dagster run; the warning that says so."""
        warning = (
            f"OpenLineage: {what}. The run goes on; the rest of its lineage events are not "
            "sent. Fix: start the receiver (or speed it up) or correct `lineage.openlineage` "
            "in hub.yaml (remove it to stop sending)."
        )
        with self._lock:
            self._failed.add(dagster_run_id)
            self.lost.append(warning)
        return warning


def _root_cause(exc: BaseException) -> BaseException:
    """The bottom of the chain (`Connection refused`), not the client's wrappers around it."""
    seen = {id(exc)}
    while (below := exc.__cause__ or exc.__context__) is not None and id(below) not in seen:
        seen.add(id(below))
        exc = below
    return exc


def _receiver(settings: OpenLineageConfig, root: Path) -> str:
    if settings.url:
        return urllib.parse.urljoin(settings.url, "api/v1/lineage")
    return str(root / settings.file)


def _transport(settings: OpenLineageConfig, root: Path) -> Any:
    if settings.file:
        from openlineage.client.transport.file import FileConfig, FileTransport

        path = (root / settings.file).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileTransport(FileConfig(log_file_path=str(path), append=True))
    from openlineage.client.transport.http import (
        ApiKeyTokenProvider,
        HttpConfig,
        HttpTransport,
        TokenProvider,
    )

    auth = ApiKeyTokenProvider({"api_key": settings.api_key}) if settings.api_key else None
    return HttpTransport(
        HttpConfig(
            url=settings.url,
            timeout=settings.timeout_seconds,
            auth=auth or TokenProvider({}),
            retry={"total": 0, "status_forcelist": []},  # one retry, ours, for every failure
        )
    )


_emitters: dict[tuple[str, str, str], Emitter] = {}


def emitter_for(config: HubConfig) -> Emitter | None:
    """The project's emitter, built once per process and configuration; None when off."""
    settings = config.lineage.openlineage
    if settings is None:
        return None
    key = (settings.model_dump_json(), str(config.root), config.project)
    if key not in _emitters:
        _emitters[key] = Emitter(settings, config.root, settings.namespace or config.project)
    return _emitters[key]


def lost_events(config: HubConfig) -> list[str]:
    """The warnings of every run in this process whose lineage events could not be sent."""
    emitter = emitter_for(config) if config.lineage.openlineage else None
    return list(emitter.lost) if emitter else []
