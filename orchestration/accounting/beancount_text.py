"""Beancount's text: escaped strings and plain (never scientific) numbers."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_REPLACEMENT_CHAR = "\ufffd"


def escape_string(text: str) -> str:
    """Quote ``text`` as a Beancount string literal.

    Backslashes, double quotes, newlines, carriage returns and tabs are escaped (Beancount
    unescapes them back). Other control characters become U+FFFD.
    """
    out = []
    for char in text:
        if char in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[char])
        elif unicodedata.category(char) == "Cc":
            out.append(_REPLACEMENT_CHAR)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def format_number(amount: Decimal) -> str:
    """Write a Decimal exactly, in plain notation (never scientific, never via float)."""
    return format(amount, "f")
