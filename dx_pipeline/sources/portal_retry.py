"""How hard the portal client keeps trying, in one place: the numbers and why they are sized so.

A pull is a few dozen GETs (the sample quarter: 37 dossier pages of 500 and 2 procedure
pages). The client must finish a pull by itself through a long bad spell in which 60 % of
requests fail (timeouts, 5xx, 429, connection resets), so:

- **attempts per request** (12): a request fails all 12 with probability 0.6^12 = 0.2 %, about
  one pull in twelve meets such a request;
- **resumes per pull** (3): when a request has spent its attempts, the pull pauses for
  ``backoff_max`` and resumes from its last good page (landed pages whose checksums verify are
  not fetched again); failing four times in one pull at 60 % is about 3 in a million;
- **backoff**: exponential, full jitter, ``uniform(0, min(backoff_max, backoff_base * 2^n))``;
  a 429's ``Retry-After`` is waited instead (seconds or an HTTP date);
- **time budget** (1 h) for the whole pull: no wait starts that would end after it, and the
  pull then fails saying how long it tried; the landed pages stay, a rerun resumes.

``wait_scale`` multiplies every wait (backoff, Retry-After, the pause before a resume). It is
1 in production; tests and benchmarks set it small so the real backoff code runs quickly.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class RetryPolicy:
    """The portal client's budgets: attempts per request, resumes and time per pull, backoff."""

    attempts: int = 12
    """Tries of one GET (the first and the retries) before the pull pauses and resumes."""
    resumes: int = 3
    """Times one pull resumes from its last good page within the same call, after a GET
    spent its attempts."""
    restarts: int = 2
    """Times a pull starts over because the portal's advertised total changed during it."""
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    time_budget: float = 3600.0
    """Seconds the whole pull may take, waits included."""
    timeout: tuple[float, float] = (5.0, 60.0)
    """(connect, read) timeout of one GET, in seconds."""
    wait_scale: float = 1.0
    """Multiplies every wait; below 1 only in tests and benchmarks."""

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.resumes < 0 or self.restarts < 0:
            raise ValueError("attempts must be >= 1, resumes and restarts >= 0")
        if min(self.backoff_base, self.backoff_max, self.wait_scale) < 0 or self.time_budget <= 0:
            raise ValueError("backoff and wait_scale must be >= 0 and time_budget > 0")

    @classmethod
    def with_options(cls, base: RetryPolicy | None = None, **options: object) -> RetryPolicy:
        """``base`` (default: the defaults) with some fields replaced; an unknown name is an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown portal retry option(s) {unknown}; known: {sorted(known)}")
        values = {f.name: getattr(base, f.name) for f in fields(cls)} if base else {}
        return cls(**{**values, **options})  # type: ignore[arg-type]

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)], scaled."""
        return rng() * min(self.backoff_max, self.backoff_base * (2**attempt)) * self.wait_scale


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """A ``Retry-After`` header in seconds (delta-seconds or an HTTP date); None if absent or
    unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


class Deadline:
    """The end of a pull's time budget, on the monotonic clock."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._start = clock()

    def elapsed(self) -> float:
        """Seconds since the pull started."""
        return self._clock() - self._start

    def allows(self, wait: float) -> bool:
        """True when a wait of ``wait`` seconds would end within the budget."""
        return self.elapsed() + wait <= self.seconds
