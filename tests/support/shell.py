"""Reading what a documented shell session printed."""

from __future__ import annotations

import json
from typing import Any


def documents(text: str) -> list[Any]:
    """The JSON documents curl printed back to back (it adds no newlines)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found
