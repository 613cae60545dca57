"""Small text helpers shared by the CLI and the panels. Blender-free."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """'1h02m' or '3m07s' for a duration in seconds; '?' when unknown (None or negative)."""
    if seconds is None or seconds < 0:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
