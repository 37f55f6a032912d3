"""Output: the result folder, JUnit, the console table and the HTML report.

Layout (imports point down this list):

    report/     `report.html` and `racelab report` (loads matplotlib and jinja2 only when a report is built)
    folder.py   result folders: safe names, atomic files, `runs.jsonl`, `summary.json`, `latest`, replay commands
    junit.py    `junit.xml` from a summary
    table.py    the end-of-run table (the only output module that imports rich)

Imports: stdlib, rich, `harness.errors`, `harness.model` and `harness.judge` (pure); never `simulator`. Decoding
runs is `harness.model.codec`'s, and building the summary `harness.judge.build_summary`'s.

    folder = open_result_dir(Path("results"), "suite", now=datetime.now())
    write_results(folder, records_with_results=judged, summary=summary, inputs={})
"""

from __future__ import annotations

from .folder import LATEST, open_result_dir, replay_command, slugify, write_results, write_timing
from .junit import junit_xml
from .table import plain_table, render_table

__all__ = [
    "LATEST",
    "junit_xml",
    "open_result_dir",
    "plain_table",
    "render_table",
    "replay_command",
    "slugify",
    "write_results",
    "write_timing",
]
