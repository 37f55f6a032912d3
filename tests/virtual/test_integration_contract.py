"""The integration contract (`harness.integrations.Integration`), as a user writes against it: a `module:Class` of
flows runs as a built-in does, and what is not such a class is refused with a sentence that says how to fix it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.drive.runner import RunOutcome
from harness.errors import InvalidScenario
from harness.integrations import Integration, Run, load_integration, step_flow
from harness.model.records import RunSpec, Step, Verdict
from harness.scenarios import expand, load_scenario
from harness.virtual.universe import run_virtual, virtual_config

ROOT = Path(__file__).resolve().parents[2]

MODULE = '''
from harness.integrations import AwaitChange, Integration, Sleep, api, invoice_items


class InvoiceAsRead(Integration):
    """The naive integration, as a user would write it."""

    name = "invoice-as-read"

    def invoice(self, run, step):
        read = yield api.get_order(run.order_id)
        if read.ok:
            yield api.invoice(run.order_id, number=run.invoice_number(), value=int(read.body["value"]),
                              items=invoice_items(read.body))


class InvoiceWhenFinished(InvoiceAsRead):
    """The workaround, as docs/integrations.md writes it."""

    name = "invoice-when-finished"

    def invoice(self, run, step):
        for index in run.planned_changes:
            request_id = yield AwaitChange(index, timeout_s=5.0)
            while request_id is not None:
                change = yield api.get_change(run.order_id, request_id)
                if change.ok and change.body.get("finished"):
                    break
                yield Sleep(0.05)
        yield from super().invoice(run, step)


class Unnamed(Integration):
    pass


class Coroutines(Integration):
    async def invoice(self, ctx, step):
        return None


class NotAnIntegration:
    name = "plain"
'''


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "user_middleware.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_middleware"
    sys.modules.pop("user_middleware", None)


def outcomes(integration: str) -> list[RunOutcome]:
    """The first runs of the over-invoice sweep (Change 50-1000 ms after the invoice trigger), in virtual time."""
    scenario = load_scenario(ROOT / "scenarios" / "over-invoice.yaml")
    specs = expand(scenario, seed=1, runs=1, integrations=[integration])
    config = virtual_config(scenario.profile, scenario.simulator, 1)
    return [run_virtual(spec, config) for spec in specs[:6]]


def test_a_users_flow_integration_runs_as_a_builtin_does_and_reproduces_the_race(module: str) -> None:
    runs = outcomes(f"{module}:InvoiceAsRead")
    assert Verdict.INVALID in {o.verdict for o in runs}
    assert all(o.record.error is None for o in runs)
    naive = outcomes("naive")
    assert [[(op.actor, op.f, op.step) for op in o.record.history] for o in runs] == [
        [("invoice-as-read" if op.actor == "naive" else op.actor, op.f, op.step) for op in o.record.history]
        for o in naive
    ]


def test_the_documented_workaround_holds(module: str) -> None:
    runs = outcomes(f"{module}:InvoiceWhenFinished")
    assert {o.verdict for o in runs} == {Verdict.VALID}
    assert all(any(op.f == "get_change" for op in o.record.history) for o in runs)


def test_a_class_without_a_name_is_named_after_its_reference(module: str) -> None:
    assert load_integration(f"{module}:Unnamed").name == f"{module}:Unnamed"


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("Coroutines", "invoice must be flows .* not coroutines"),
        ("NotAnIntegration", "must be a subclass of harness.integrations.Integration"),
        ("Missing", "cannot import it"),
    ],
)
def test_what_is_not_an_integration_of_flows_is_refused_and_says_how_to_fix_it(
    module: str, attr: str, message: str
) -> None:
    with pytest.raises(InvalidScenario, match=message):
        load_integration(f"{module}:{attr}")


def test_a_step_no_one_handles_is_refused() -> None:
    spec = RunSpec("r", "s", "naive", {}, 0, 1, "o-1", {}, (Step(0.0, "teleport"),), ())
    with pytest.raises(InvalidScenario, match="no handler for step 0 `do: teleport`"):
        step_flow(Integration(), Run(spec=spec, now=lambda: 0.0), 0, spec.steps[0], {})


def test_the_base_hooks_do_nothing_but_send_the_changes() -> None:
    spec = RunSpec("r", "s", "x", {}, 0, 1, "o-1", {}, (Step(0.0, "invoice"), Step(5.0, "change")), ())
    run, base = Run(spec=spec, now=lambda: 0.0), Integration()
    for flow in (base.prepare(run.now), base.start(run), base.invoice(run, spec.steps[0]), base.settle(run)):
        assert list(flow) == []
    sent = base.change(run, spec.steps[1])
    assert next(sent).f == "change"  # type: ignore[union-attr]
