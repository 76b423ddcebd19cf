"""Every benchmark's printed tables also go to ``reports/benchmarks/<name>.md``, which
``scalpvision results`` puts into ``docs/results.md`` (no table is copied by hand)."""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import sys
from pathlib import Path


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


@contextlib.contextmanager
def reported(name: str):
    """Print as usual and keep a copy in ``reports/benchmarks/<name>.md`` with the command."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, buf)):
        yield
    out = Path("reports/benchmarks") / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = " ".join(["python", *sys.argv])
    out.write_text(f"`{cmd}` ({datetime.date.today()}, {os.cpu_count()} CPU cores):\n\n"
                   + buf.getvalue())
