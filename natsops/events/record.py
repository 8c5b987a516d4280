"""Recordings: every event appended as a JSON line, and read back for replay.

Credentials never reach the file: ``jwt`` fields and anything shaped like a JWT or a
seed are replaced by ``<redacted>``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from natsops import __version__
from natsops.errors import NatsopsError
from natsops.events.model import MALFORMED, Event, parse_event
from natsops.events.store import EventStore

log = logging.getLogger(__name__)

RECORDING_VERSION = 1


class RecordingError(NatsopsError):
    """A recording could not be written or read."""


def _line(ev: Event) -> str:
    head = json.dumps(
        {"subject": ev.subject, "source": ev.source, "received": round(ev.received, 6)},
        separators=(",", ":"),
    )[:-1]
    if ev.kind == MALFORMED or ev.kind == "claims_update":
        text = ev.raw.get("text") if ev.kind == MALFORMED else ev.raw.get("claims")
        return f'{head},"payload_text":{json.dumps(text)}}}\n'
    payload = ev.payload_json()
    if "\n" in payload or "\r" in payload:
        payload = json.dumps(json.loads(payload), separators=(",", ":"))
    return f'{head},"payload":{payload}}}\n'


class Recorder:
    """Appends events to a JSON-lines file; writes a header line to a new file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.written = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
            if self._file.tell() == 0:
                header = {
                    "natsops_recording": RECORDING_VERSION,
                    "natsops": __version__,
                    "started": time.time(),
                }
                self._file.write(json.dumps(header) + "\n")
                self._file.flush()
        except OSError as exc:
            raise RecordingError(
                f"cannot write the recording {self.path}: {exc.strerror or exc}",
                "choose a writable path for --record",
            ) from exc

    def write(self, events: Iterable[Event]) -> int:
        """Append ``events``; returns how many lines were written."""
        if self._file is None:
            return 0
        lines = [_line(ev) for ev in events]
        if not lines:
            return 0
        try:
            self._file.write("".join(lines))
            self._file.flush()
        except OSError as exc:
            log.error("recording to %s stopped: %s", self.path, exc)
            self.close()
            return 0
        self.written += len(lines)
        return len(lines)

    def write_accounts(self, names: Mapping[str, str]) -> None:
        """Record account public key -> name, so a replay names accounts alike."""
        if self._file is None or not names:
            return
        try:
            self._file.write(json.dumps({"account_names": dict(names)}) + "\n")
            self._file.flush()
        except OSError as exc:
            log.error("recording to %s stopped: %s", self.path, exc)
            self.close()

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class RecordedMessage:
    """One line of a recording."""

    subject: str
    payload: bytes
    source: str
    received: float

    def event(self) -> Event:
        return parse_event(self.subject, self.payload, self.source, self.received)


class RecordingReader:
    """Iterates a recording's messages; counts lines that are not messages."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.bad_lines = 0
        self.header: dict[str, Any] | None = None
        #: account public key -> name, as recorded (grows while reading)
        self.account_names: dict[str, str] = {}
        if not self.path.exists():
            raise RecordingError(f"no such recording: {self.path}")
        if self.path.is_dir():
            raise RecordingError(f"{self.path} is a directory, not a recording")
        try:
            with self.path.open("rb") as fh:
                first = fh.readline(1 << 20)
        except OSError as exc:
            raise RecordingError(
                f"cannot read {self.path}: {exc.strerror or exc}"
            ) from exc
        if first.strip() and not self._is_recording_line(first):
            raise RecordingError(
                f"{self.path} is not a natsops recording",
                "record one with 'natsops events --record FILE'",
            )

    @staticmethod
    def _is_recording_line(line: bytes) -> bool:
        try:
            doc = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return False
        return isinstance(doc, dict) and (
            "natsops_recording" in doc
            or "account_names" in doc
            or ("subject" in doc and "source" in doc)
        )

    def __iter__(self) -> Iterator[RecordedMessage]:
        try:
            with self.path.open("rb") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    msg = self._message(line)
                    if msg is not None:
                        yield msg
        except OSError as exc:
            raise RecordingError(
                f"cannot read {self.path}: {exc.strerror or exc}"
            ) from exc

    def _message(self, line: bytes) -> RecordedMessage | None:
        try:
            doc = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            self.bad_lines += 1
            return None
        if not isinstance(doc, dict):
            self.bad_lines += 1
            return None
        if "natsops_recording" in doc:
            self.header = doc
            return None
        if "account_names" in doc:
            names = doc["account_names"]
            if isinstance(names, dict):
                self.account_names.update(
                    {k: v for k, v in names.items() if isinstance(v, str)}
                )
            return None
        subject = doc.get("subject")
        source = doc.get("source")
        received = doc.get("received")
        if not isinstance(subject, str) or not isinstance(source, str):
            self.bad_lines += 1
            return None
        if "payload_text" in doc:
            payload = str(doc["payload_text"]).encode()
        elif "payload" in doc:
            payload = json.dumps(doc["payload"], separators=(",", ":")).encode()
        else:
            self.bad_lines += 1
            return None
        if not isinstance(received, int | float) or isinstance(received, bool):
            received = 0.0
        return RecordedMessage(subject, payload, source, float(received))

    def events(self) -> Iterator[Event]:
        for msg in self:
            yield msg.event()


def read_recording(path: Path | str) -> list[Event]:
    """Every event of a recording, in order (raises :class:`RecordingError`)."""
    return list(RecordingReader(path).events())


def replay_into(store: EventStore, reader: RecordingReader) -> list[Event]:
    """Add a recording's events to ``store`` as the live feed did; returns the new
    ones (duplicates are counted by the store, as they were live)."""
    new: list[Event] = []
    known = 0
    for msg in reader:
        if len(reader.account_names) != known:
            known = len(reader.account_names)
            store.account_names.update(reader.account_names)
        ev = msg.event()
        if store.add(ev):
            new.append(ev)
    return new


def load_recording(path: Path | str, capacity: int | None = None) -> EventStore:
    """A store holding a whole recording (``capacity`` at least its length)."""
    reader = RecordingReader(path)
    messages = list(reader)
    store = EventStore(capacity=max(capacity or 0, len(messages), 1))
    store.account_names.update(reader.account_names)
    for msg in messages:
        store.add(msg.event())
    return store
