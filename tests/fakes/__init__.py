"""Test doubles: recorded provider exchanges and a scripted fake upstream HTTP server."""

from tests.fakes.recordings import Recording, Source, all_recordings, load_recording
from tests.fakes.upstream import FakeUpstream, ReceivedRequest, Reply

__all__ = [
    "FakeUpstream",
    "ReceivedRequest",
    "Recording",
    "Reply",
    "Source",
    "all_recordings",
    "load_recording",
]
