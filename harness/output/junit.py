"""`junit.xml`: a summary's gate decisions as JUnit test cases, for CI.

Owns `junit_xml`: one testsuite per scenario, one testcase per (integration, gate condition), failed with its
reason; each testsuite's `system-out` holds that scenario's rows of the summary table. An interrupted sweep adds, first,
a testsuite `racelab` whose testcase `interrupted` is an `<error>` naming the signal and the counts, so CI shows the
run as broken, not as a set of gate failures; its gates that held on the runs that finished fail as `Interrupted`.

Imports: stdlib, `harness.model.summary` and `harness.output.table`.

    junit_xml(summary).write("junit.xml", encoding="utf-8", xml_declaration=True)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.model.summary import Summary
from harness.output.table import plain_table, scenario_names

__all__ = ["junit_xml"]


def junit_xml(summary: Summary) -> ET.ElementTree[ET.Element]:
    """JUnit XML: one testsuite per scenario, one testcase per (integration, gate condition), failed with its reason.

    Args:
        summary: The summary of the runs.

    Returns:
        The tree (not indented: `ET.indent` it before writing for people to read).
    """
    suites = ET.Element("testsuites", name="racelab")
    total = failures = errors = 0
    if summary.interrupted is not None:
        suite = ET.SubElement(suites, "testsuite", name="racelab", tests="1", failures="0", errors="1", skipped="0")
        case = ET.SubElement(suite, "testcase", classname="racelab", name="interrupted")
        message = f"{summary.interrupted}; no gate can pass"
        ET.SubElement(case, "error", message=message, type="Interrupted").text = message
        total, errors = 1, 1
    for name in scenario_names(summary):
        decided = [g for g in summary.gates if g.scenario == name]
        failed = sum(1 for g in decided if not g.passed)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(decided)),
            failures=str(failed),
            errors="0",
            skipped="0",
        )
        for g in decided:
            case = ET.SubElement(suite, "testcase", classname=f"racelab.{name}", name=g.name)
            if g.passed:
                ET.SubElement(case, "system-out").text = g.reason
            else:
                kind = "Interrupted" if g.held_back else "GateFailed"
                failure = ET.SubElement(case, "failure", message=g.reason, type=kind)
                failure.text = g.reason
        ET.SubElement(suite, "system-out").text = plain_table(summary, scenario=name)
        total += len(decided)
        failures += failed
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    return ET.ElementTree(suites)
