"""Vietnamese text the way clerks' files carry it: unaccented forms, legacy encodings, numbers.

Kept apart from the generators because the same quirks (Windows-1258 combining tone marks,
decimal commas) are what the readers must undo.
"""

from __future__ import annotations

import unicodedata

_EXTRA_ASCII = str.maketrans({"đ": "d", "Đ": "D"})


def strip_diacritics(text: str) -> str:
    """``"Sở Tư pháp"`` -> ``"So Tu phap"`` (for English names, codes and cp1252 files)."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA_ASCII))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def encode_windows_1258(text: str) -> bytes:
    """Encode to Windows-1258, which holds Vietnamese as base letter plus combining tone mark.

    Python's cp1258 codec only maps single code points, so a precomposed ``ố`` must first be
    split into ``ô`` + combining acute, as Vietnamese Windows software did.
    """
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base, marks = parts[0], parts[1:]
        # Recompose the base with a vowel mark cp1258 has precomposed (â, ê, ô, ơ, ư, ă).
        for i, mark in enumerate(marks):
            candidate = unicodedata.normalize("NFC", base + mark)
            if len(candidate) == 1:
                try:
                    candidate.encode("cp1258")
                except UnicodeEncodeError:
                    continue
                base, marks = candidate, marks[:i] + marks[i + 1 :]
                break
        out += (base + marks).encode("cp1258", errors="replace")
    return bytes(out)


def encode_cp1252(text: str) -> bytes:
    """Encode to cp1252, dropping the diacritics of words cp1252 cannot hold (``Người`` -> ``Nguoi``)."""
    words = []
    for word in text.split(" "):
        try:
            word.encode("cp1252")
        except UnicodeEncodeError:
            word = strip_diacritics(word)
        words.append(word)
    return " ".join(words).encode("cp1252", errors="replace")


def vi_number(value: float, decimals: int = 1) -> str:
    """Format like a Vietnamese clerk: decimal comma, dot thousands (``1.234,5``)."""
    text = f"{value:,.{decimals}f}"
    text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if decimals and "," in text:
        text = text.rstrip("0").rstrip(",")
    return text
