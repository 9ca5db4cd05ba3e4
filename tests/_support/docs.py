"""The code blocks of the documents, with the markers above them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests._support.processes import ROOT

_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*([a-z]+):\s*(.*?)\s*-->\s*$")
_MARKS = ("illustrative", "background", "expect")


@dataclass
class Block:
    """One fenced block of a document, with the markers right above it."""

    doc: str
    line: int
    lang: str
    code: str
    marks: dict[str, list[str]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}-{self.lang}"


def read_blocks(doc: str) -> list[Block]:
    """The ``python`` and ``bash`` blocks of `doc`, in order (list-indented ones too)."""
    lines = (ROOT / doc).read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, lang = fence[1], fence[2]
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{doc}:{i + 1}: unclosed code block"
        if lang in ("python", "bash"):
            body = [
                text[len(indent) :] if text.startswith(indent) else text
                for text in lines[i + 1 : end]
            ]
            marks: dict[str, list[str]] = {}
            above = i - 1
            while above >= 0 and (mark := _MARK.match(lines[above])):
                assert mark[1] in _MARKS, f"{doc}:{above + 1}: unknown marker {mark[1]!r}"
                marks.setdefault(mark[1], []).insert(0, mark[2])
                above -= 1
            found.append(Block(doc, i + 1, lang, "\n".join(body) + "\n", marks))
        i = end + 1
    return found
