"""A report a person can read: one HTML page (and a JSON twin) per check run."""

from __future__ import annotations

import html
import json
from pathlib import Path

from data_checks.manifest_suite import CheckOutcome


def write_report(outcome: CheckOutcome, out_dir: str | Path, title: str,
                 extra: dict | None = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(
        {"success": outcome.success, "rows": outcome.rows, "extra": extra or {},
         "results": outcome.results}, indent=1, default=str), encoding="utf-8")
    n_fail = len(outcome.failed)
    verdict = ("PASSED" if outcome.success else f"FAILED ({n_fail} of {len(outcome.results)} "
               "expectations)")
    rows = []
    for r in sorted(outcome.results, key=lambda r: (r["success"], r["scope"])):
        colour = "#e6f4ea" if r["success"] else "#fce8e6"
        detail = html.escape(", ".join(r["partial_unexpected"][:8]) or r["observed"])
        kwargs = html.escape(json.dumps(r["kwargs"], default=str)[:160])
        rows.append(
            f"<tr style='background:{colour}'><td>{'✔' if r['success'] else '✘'}</td>"
            f"<td>{html.escape(r['scope'])}</td><td>{html.escape(r['expectation'])}</td>"
            f"<td>{html.escape(str(r['column']))}</td><td><code>{kwargs}</code></td>"
            f"<td>{r['unexpected_count'] if r['unexpected_count'] is not None else ''}</td>"
            f"<td>{detail}</td></tr>")
    extra_html = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>"
                         for k, v in (extra or {}).items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 8px;border-bottom:1px solid #ddd;
font-size:13px;vertical-align:top}}table{{border-collapse:collapse}}</style></head><body>
<h1>{html.escape(title)}</h1><h2 id="verdict">{verdict}</h2><p>{outcome.rows} rows checked.</p>
<ul>{extra_html}</ul><table><tr><th></th><th>scope</th><th>expectation</th><th>column</th>
<th>arguments</th><th>unexpected</th><th>examples / observed</th></tr>{''.join(rows)}</table>
<p>Great Expectations {_gx_version()} suite from <code>data_checks/manifest_suite.py</code>.</p>
</body></html>"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _gx_version() -> str:
    try:
        import great_expectations as gx

        return gx.__version__
    except ImportError:  # pragma: no cover
        return "?"
