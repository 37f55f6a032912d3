"""The charts (`harness.output.report.charts`): each draws an SVG that can sit inline in a page beside the others."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from harness.output.report import charts
from harness.output.report.cost import AddedTime, CostData
from harness.output.report.rates import CellCount, RateChart, heat_map, rate_curve
from harness.output.report.timelines import timeline
from tests.support.runs import OVER, failure_a, result

SVG = "{http://www.w3.org/2000/svg}"
COUNTS = [
    CellCount("naive", {"step0.at_ms": 0.0, "step1.at_ms": 100.0}, 10, 9, 0),
    CellCount("naive", {"step0.at_ms": 200.0, "step1.at_ms": 100.0}, 10, 5, 0),
    CellCount("workaround", {"step0.at_ms": 0.0, "step1.at_ms": 100.0}, 10, 0, 1),
]
COLORS = charts.palette(["naive", "workaround"])


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def assert_self_contained(svg: str, chart_id: str) -> None:
    """Text stays text, nothing refers outside, every internal id carries the chart's prefix, no page-wide style."""
    root = parse(svg)
    assert root.get("data-chart-id") == chart_id
    assert texts(root), "svg.fonttype none keeps labels as <text>"
    assert "<style" not in svg
    assert "<metadata" not in svg
    ids = re.findall(r'(?<![\w-])id="([^"]+)"', svg)
    assert ids
    assert all(i.startswith(f"{chart_id}-") for i in ids)
    references = re.findall(r'(?:href="|url\()#([^")]+)', svg)
    assert set(references) <= set(ids)
    assert not re.search(r'(?:href|src)="(?:https?:)?//', svg)


def test_rate_chart_against_a_swept_offset() -> None:
    chart = RateChart("s", "step1.at_ms", "step 1 (change) offset, ms", False, rate_curve(COUNTS, "step1.at_ms"))
    svg = charts.rate_chart(chart, colors=COLORS, chart_id="c1")
    assert_self_contained(svg, "c1")
    labels = texts(parse(svg))
    assert "step 1 (change) offset, ms" in labels
    assert "naive: 14/20 invalid" in labels
    assert "workaround: 0/10 invalid" in labels


def test_rate_chart_without_a_parameter_is_bars_per_integration() -> None:
    chart = RateChart("s", None, "integration", False, rate_curve(COUNTS, None))
    svg = charts.rate_chart(chart, colors=COLORS, chart_id="c2")
    assert_self_contained(svg, "c2")
    labels = texts(parse(svg))
    assert "14/20 invalid" in labels
    assert "workaround" in labels


def test_heat_map_chart_annotates_each_cell() -> None:
    svg = charts.heat_map_chart(heat_map(COUNTS, "step1.at_ms", "step0.at_ms"), chart_id="c3")
    assert_self_contained(svg, "c3")
    labels = texts(parse(svg))
    assert {"9/10", "5/10", "0/10", "naive", "workaround", "violation rate"} <= set(labels)
    # The cells are vector shapes; the one bitmap is the colour bar's gradient, inline.
    images = re.findall(r'<image[^>]*href="([^"]*)"', svg)
    assert len(images) == 1
    assert images[0].startswith("data:image/png;base64,")


def test_cost_chart_marks_p50_and_p99() -> None:
    cost = CostData("naive", (AddedTime("workaround", (300.0, 500.0, 900.0), 1, 500.0, 892.0),))
    svg = charts.cost_chart(cost, colors=COLORS, chart_id="c4")
    assert svg is not None
    assert_self_contained(svg, "c4")
    assert "workaround: p50 +500 ms, p99 +892 ms (3 pairs)" in texts(parse(svg))


def test_cost_chart_is_absent_without_pairs() -> None:
    cost = CostData("naive", (AddedTime("workaround", (), 4, None, None),))
    assert charts.cost_chart(cost, colors=COLORS, chart_id="c5") is None
    assert charts.cost_chart(CostData(None, ()), colors=COLORS, chart_id="c5") is None


def test_timeline_chart_draws_lanes_the_breakage_and_a_note_for_later_entries() -> None:
    tl = timeline(failure_a(), [result(OVER)], replay="")
    svg = charts.timeline_chart(tl, chart_id="c6")
    assert_self_contained(svg, "c6")
    labels = texts(parse(svg))
    assert {"get_order", "invoice NF-1", "change req-1", "workflow check-2"} <= set(labels)
    assert f"{OVER} broke" in labels
    assert "\N{RIGHTWARDS ARROW} payment-approved" in labels
    assert "v3" in labels
    assert any(label.startswith("+1 later simulator entries") for label in labels)
    assert "1 earlier (seed) from -60 ms (event list)" in labels
    assert "#2 202" in labels


@pytest.mark.parametrize("name", ["<b>&amp;</b>", "cost $x$ of 'it'", 'module:Thing "quoted"'])
def test_text_from_users_is_escaped_and_never_read_as_tex(name: str) -> None:
    counts = [CellCount(name, {"step1.at_ms": 100.0}, 2, 1, 0)]
    chart = RateChart("s", "step1.at_ms", "x", False, rate_curve(counts, "step1.at_ms"))
    svg = charts.rate_chart(chart, colors=charts.palette([name]), chart_id="c7")
    assert f"{name}: 1/2 invalid" in texts(parse(svg))


def test_palette_is_stable_and_never_uses_the_breakage_red() -> None:
    colors = charts.palette([f"i{n}" for n in range(20)])
    assert charts.BROKEN not in colors.values()
    assert charts.palette(["naive", "workaround"]) == charts.palette(["naive", "workaround", "naive"])
