"""Write measured blocks into docs/results.md, section "## Spiking twin", without touching the rest.

Shared by scripts/compare.py and scripts/bench_spiking.py (and nothing else). Each script owns
named blocks delimited by HTML comments, so re-running a measurement replaces its own block and
leaves every other block and section (e.g. "## Analog agent", written by others) as it was.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

SECTION = "## Spiking twin"


def machine() -> str:
    """One line describing where a figure was measured."""
    import torch

    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()}"
    )


def write_block(path: str | Path, key: str, text: str, section: str = SECTION) -> None:
    """Replace (or append) the block ``key`` inside ``section`` of the markdown file ``path``.

    The file is created with a "# Results" title if absent, and the section appended if absent.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", key):
        raise ValueError(f"key must be letters, digits and _.:- only, got {key!r}")
    path = Path(path)
    doc = path.read_text() if path.exists() else "# Results\n"
    start_tag, end_tag = f"<!-- block:{key} -->", f"<!-- /block:{key} -->"
    block = f"{start_tag}\n{text.strip()}\n{end_tag}\n"
    lines = doc.splitlines(keepends=True)
    head = next((i for i, line in enumerate(lines) if line.rstrip() == section), None)
    if head is None:
        doc = doc.rstrip("\n") + f"\n\n{section}\n\n{block}"
    else:
        end = next((i for i in range(head + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        body = "".join(lines[head + 1 : end])
        pattern = re.compile(re.escape(start_tag) + r".*?" + re.escape(end_tag) + r"\n?", re.S)
        if pattern.search(body):
            body = pattern.sub(lambda _: block, body)
        else:
            body = body.rstrip("\n") + "\n\n" + block
            if end < len(lines):
                body += "\n"
        doc = "".join(lines[: head + 1]) + body + "".join(lines[end:])
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(doc)
    os.replace(tmp, path)  # atomic: another writer never sees half a file


def md_table(header: list[str], rows: list[list]) -> str:
    """A markdown table; floats are printed as given (format them before)."""
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
