"""Test doubles that speak real wire protocols, so tests exercise the real client code."""

from .openai_server import FakeOpenAI, Fault, FaultKind, RecordedRequest

__all__ = ["FakeOpenAI", "Fault", "FaultKind", "RecordedRequest"]
