"""Stores are context managers that close on exit; written once here."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class ClosesOnExit:
    """``with store:`` closes ``store`` at the end of the block, however it ends."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
