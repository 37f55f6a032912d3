"""The report of a real run, opened in headless Chromium (Debian's `chromium`, driven over the DevTools protocol).

`racelab run` runs a small scenario that sweeps two offsets under fixed delays (so the naive integration fails in
some cells and not others: rate curves, a heat map, timelines, the workaround's cost), then the report it wrote is
opened offline: no console errors, no request but the file itself, every chart rendered with a size, the table's
filters and replay commands working. A screenshot is saved as `report.png` in the test's temporary folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.output.folder import replay_command
from tests.support.cdp import open_chromium

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: two-sweeps
summary: >
  The over-invoice race over two offsets under fixed delays: the invoice at 0 or 200 ms, the Change 50 to 800 ms in.
profile: fixed
simulator: {orders: {workflow: {after_invoice: 600}}}   # settle sooner; the default 2 s only delays the end
order:
  items: [{id: sku-1, price: 4990, quantity: 2}, {id: sku-2, price: 1500, quantity: 1}]
  shipping: 1000
  status: handling
integrations: [naive, workaround]
steps:
  - {at: {from: 0ms, to: 200ms, step: 200ms}, do: invoice}
  - {at: {from: 50ms, to: 800ms, step: 250ms}, do: change, remove: [{id: sku-2, quantity: 1}]}
runs: 1
expect: [no-over-invoice, invoiced-when-fully-invoiced, change-respects-invoices]
gate:
  naive: {reproduces: [no-over-invoice]}
  workaround: {violations: 0}
"""

CHARTS = """[...document.querySelectorAll("figure.chart")].map((figure) => {
  const svg = figure.querySelector("svg");
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const drawn = svg ? svg.getBBox() : {width: 0, height: 0};
  return {kind: figure.dataset.chart, width: box.width, height: box.height,
          drawnWidth: drawn.width, drawnHeight: drawn.height, texts: svg ? svg.querySelectorAll("text").length : 0};
})"""

VISIBLE_ROWS = """[...document.querySelectorAll("#runs tbody tr")].filter((row) => row.getClientRects().length)
  .map((row) => row.cells[2].textContent)"""


def click(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)}).click()"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The result folder of a real `racelab run` (embedded simulator), as CI would run it."""
    base = tmp_path_factory.mktemp("run")
    scenario = base / "two-sweeps.yaml"
    scenario.write_text(SCENARIO)
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(scenario), "--out", str(base / "results")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return (base / "results" / "latest").resolve()


@pytest.mark.slow
async def test_the_report_of_a_real_run_renders_offline_in_chromium(real_run: Path, tmp_path: Path) -> None:
    report = real_run / "report.html"
    summary: dict[str, Any] = json.loads((real_run / "summary.json").read_text())
    runs = [json.loads(line) for line in (real_run / "runs.jsonl").read_text().splitlines()]
    invalid = [r["run_id"] for r in runs if r["verdict"] == "invalid"]
    assert 0 < len(invalid) < len(runs), "the sweep must fail in some cells and hold in others"

    async with open_chromium(tmp_path / "chromium") as browser:
        page = await browser.new_page(width=1280, height=900)
        load = await page.load(report.as_uri())
        (tmp_path / "report.png").write_bytes(await page.screenshot())

        assert load.errors == []
        assert [url for url in load.requests if not url.startswith("data:")] == [report.as_uri()]

        charts = await page.evaluate(CHARTS)
        kinds = [c["kind"] for c in charts]
        assert kinds.count("rate") == 2  # against each swept offset
        assert kinds.count("heat-map") == 1
        assert kinds.count("timeline") >= 1
        assert kinds.count("cost") == 1
        for chart in charts:
            assert chart["width"] > 100, chart
            assert chart["height"] > 100, chart
            assert chart["drawnWidth"] > 0, chart
            assert chart["drawnHeight"] > 0, chart
            assert chart["texts"] > 0, chart

        assert await page.evaluate('document.getElementById("verdict").textContent') == "PASS · 2 of 2 gates passed"
        assert await page.evaluate(VISIBLE_ROWS) == [r["run_id"] for r in runs]

        await page.evaluate(click('button[data-verdict="invalid"]'))
        assert await page.evaluate(VISIBLE_ROWS) == invalid
        assert await page.evaluate('document.getElementById("runs-shown").textContent') == f"{len(invalid)} runs shown"
        await page.evaluate(click('button[data-verdict="valid"]'))
        assert len(await page.evaluate(VISIBLE_ROWS)) == summary["runs"] - summary["invalid"] - summary["unknown"]

        # Pages: 16 runs, 5 to a page.
        await page.evaluate('document.getElementById("runs").dataset.pageSize = "5"')
        await page.evaluate(click('button[data-verdict="all"]'))
        assert await page.evaluate(VISIBLE_ROWS) == [r["run_id"] for r in runs[:5]]
        assert await page.evaluate('document.getElementById("runs-shown").textContent') == (
            f"{len(runs)} runs shown · page 1 of {-(-len(runs) // 5)}"
        )
        await page.evaluate(click("#page-next"))
        assert await page.evaluate(VISIBLE_ROWS) == [r["run_id"] for r in runs[5:10]]
        await page.evaluate('document.getElementById("runs").dataset.pageSize = "200"')

        # The replay command of a row, built in the page, is the one `racelab replay` is documented with.
        await page.evaluate(click('button[data-verdict="all"]'))
        await page.evaluate('[...document.querySelectorAll("#runs tbody tr.invalid td:nth-child(3)")][0].click()')
        shown = await page.evaluate('document.getElementById("row-replay").textContent')
        assert shown == replay_command(real_run, "two-sweeps", invalid[0])
        timeline_replay = await page.evaluate('document.querySelector(".replay-command").textContent')
        assert timeline_replay == replay_command(real_run, "two-sweeps", invalid[0])

    screenshot = (tmp_path / "report.png").read_bytes()
    assert screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(screenshot) > 50_000
