"""Live NATS events: parsing, the bounded store with exact counts, the feed, recordings.

Headless: nothing here imports Textual.
"""

from __future__ import annotations

from natsops.events.feed import (
    ACCOUNT_SUBJECTS,
    SYSTEM_SUBJECTS,
    EventFeed,
    EventFeedError,
    EventsDenied,
    denial_text,
)
from natsops.events.model import (
    CRITICAL,
    ERROR,
    INFO,
    LEADER_KINDS,
    MALFORMED,
    SEVERITIES,
    SEVERITY_RANK,
    WARNING,
    Event,
    parse_event,
    redact_text,
)
from natsops.events.record import (
    RecordedMessage,
    Recorder,
    RecordingError,
    RecordingReader,
    load_recording,
    read_recording,
    replay_into,
)
from natsops.events.store import (
    DEFAULT_CAPACITY,
    EventBatch,
    EventCursor,
    EventFilter,
    EventStore,
    LeaderChange,
    Listener,
    SeqGaps,
    StoreStats,
    counts_line,
)

__all__ = [
    "ACCOUNT_SUBJECTS",
    "CRITICAL",
    "DEFAULT_CAPACITY",
    "ERROR",
    "INFO",
    "LEADER_KINDS",
    "MALFORMED",
    "SEVERITIES",
    "SEVERITY_RANK",
    "SYSTEM_SUBJECTS",
    "WARNING",
    "Event",
    "EventBatch",
    "EventCursor",
    "EventFeed",
    "EventFeedError",
    "EventFilter",
    "EventStore",
    "EventsDenied",
    "LeaderChange",
    "Listener",
    "RecordedMessage",
    "Recorder",
    "RecordingError",
    "RecordingReader",
    "SeqGaps",
    "StoreStats",
    "counts_line",
    "denial_text",
    "load_recording",
    "parse_event",
    "read_recording",
    "redact_text",
    "replay_into",
]
