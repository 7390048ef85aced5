"""The periodic jobs of the panel, wired with the app's objects."""

from __future__ import annotations

from typing import Any

from scheduler.setup import PeriodicJob


def build_jobs(**deps: Any) -> list[PeriodicJob]:
    return []
