"""Instants and months of the demo data: epoch milliseconds, ISO text, month arithmetic."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso_instant(ms: int, *, millis: bool = False) -> str:
    moment = EPOCH + timedelta(milliseconds=int(ms))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def local_midnight_ms(month: date, timezone: str) -> int:
    zone = ZoneInfo(timezone) if timezone else UTC
    return epoch_ms(datetime(month.year, month.month, 1, tzinfo=zone).astimezone(UTC))
