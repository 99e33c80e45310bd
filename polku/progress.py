"""Progress for long work: a bar in a terminal, periodic counts with a rate elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None, every: float = 1.0) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.every = every
        self.count = 0
        self.started = time.perf_counter()
        self._last = 0.0

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.count / elapsed if elapsed > 0 else 0.0

    def update(self, count: int, total: int | None = None) -> None:
        self.count = count
        if total is not None:
            self.total = total
        now = time.perf_counter()
        if now - self._last < (0.1 if self.tty else self.every):
            return
        self._last = now
        self._draw(final=False)

    def _line(self) -> str:
        if self.total:
            share = min(self.count / self.total, 1.0)
            if self.tty:
                width = 30
                filled = int(width * share)
                bar = "#" * filled + "-" * (width - filled)
                return f"{self.label:<28} [{bar}] {self.count}/{self.total} {self.rate:,.0f}/s"
            return f"{self.label}: {self.count}/{self.total} ({share:.0%}), {self.rate:,.0f}/s"
        return f"{self.label}: {self.count}, {self.rate:,.0f}/s"

    def _draw(self, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r" + self._line() + ("\n" if final else ""))
        else:
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def done(self) -> None:
        elapsed = time.perf_counter() - self.started
        if self.tty:
            self._draw(final=True)
        else:
            self.stream.write(f"{self.label}: {self.count} done in {elapsed:.1f}s ({self.rate:,.0f}/s)\n")
            self.stream.flush()
