"""What reading the dashboard's stores can raise: the web app and the report show it as a
message, never as a traceback."""

from __future__ import annotations

import sqlite3

from ..store.feedback_store import FeedbackStoreError
from ..store.registry import RegistryError
from ..store.telemetry import TelemetryStoreError

STORE_ERRORS: tuple[type[Exception], ...] = (
    FeedbackStoreError,
    RegistryError,
    TelemetryStoreError,
    sqlite3.Error,
    OSError,
    ValueError,
)
