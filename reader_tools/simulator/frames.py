"""What the simulated card's commands return or raise, and a multi-frame exchange in progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reader_tools.desfire.protocol import Status

if TYPE_CHECKING:
    from reader_tools.simulator.card import SimulatedCard


class CardError(Exception):
    """A command the card refuses with a DESFire status."""

    def __init__(self, status: Status, why: str = "") -> None:
        super().__init__(f"{status.name}: {why}" if why else status.name)
        self.status = status


class IsoError(Exception):
    """An ISO 7816-4 command the card refuses with a status word."""

    def __init__(self, status_word: int) -> None:
        super().__init__(f"{status_word:04X}")
        self.status_word = status_word


@dataclass
class Answer:
    """A command's answer: status and frames of data (several frames only for GetVersion)."""

    frames: list[bytes] = field(default_factory=lambda: [b""])
    status: Status = Status.OPERATION_OK

    @classmethod
    def of(cls, data: bytes = b"") -> Answer:
        """A successful answer carrying ``data`` (split into frames by the card if long)."""
        return cls(frames=[data])


Handler = Callable[["SimulatedCard", bytes], Answer]


@dataclass
class Pending:
    """A multi-frame exchange in progress, continued by the next AF frame."""

    kind: str
    command: int
    data: bytes = b""
    expected: int = 0
    context: dict[str, object] = field(default_factory=dict)
    frames: list[bytes] = field(default_factory=list)
