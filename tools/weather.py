"""Example tools: a deterministic weather service (no network needed)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Literal

from llmgine import tool


def _seeded(city: str, day: dt.date) -> int:
    digest = hashlib.sha256(f"{city.strip().lower()}|{day.isoformat()}".encode()).digest()
    return digest[0]


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get today's weather for a city.

    Args:
        city: Name of the city, e.g. "Perth".
        unit: Temperature unit.
    """
    seed = _seeded(city, dt.date.today())
    celsius = 5 + seed % 25
    sky = ["sunny", "cloudy", "rainy", "windy"][seed % 4]
    if unit == "fahrenheit":
        return f"{city}: {sky}, {celsius * 9 / 5 + 32:.0f} °F"
    return f"{city}: {sky}, {celsius} °C"


@tool
def get_forecast(city: str, days: int = 3) -> list[str]:
    """Get a day-by-day forecast for a city.

    Args:
        city: Name of the city.
        days: How many days ahead (1 to 7).
    """
    if not 1 <= days <= 7:
        raise ValueError("days must be between 1 and 7")
    today = dt.date.today()
    lines = []
    for offset in range(days):
        day = today + dt.timedelta(days=offset)
        seed = _seeded(city, day)
        lines.append(f"{day.isoformat()}: {['sunny', 'cloudy', 'rainy', 'windy'][seed % 4]}")
    return lines
