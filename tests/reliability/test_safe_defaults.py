"""Safe by default (DESIGN §6): what racelab does without being told, each with a test.

- Loopback binding: `racelab serve`, `open_server`, and what racelab starts itself (the embedded simulator, the
  pytest plugin's, the hook receiver); a port bound by `open_server` refuses a connection on another interface.
  (`tests/integration/test_cli_serve.py`: the real `racelab serve` prints a 127.0.0.1 URL.)
- The control API refuses a client that is not on loopback unless it sends the configured token, over a real
  socket bound to this machine's other address. (`tests/integration/test_control_api.py`: the rule, faked peer.)
- Request size limit: every profile has one, and a body over the default answers 413 in each service's shape.
  (`test_bad_input.py`: an oversize body on every route that takes one.)
- `yaml.safe_load` only, and no `eval`/`exec`/`compile` nor pickle/marshal loads: an AST walk of `simulator`,
  `harness` and `scenarios`, with a sample proving the walk sees each form.
- Result paths that cannot leave `results/`: `tests/unit/test_results.py` (`open_result_dir` refuses names that
  are paths and folders that resolve outside the root; `write_results` refuses input names that climb out).

Python scenario scripts (`*.py` under `scenarios/`) are imported by `harness.scenario` on purpose: they are the
user's own code, run with the user's rights, like a test file. No data file is ever evaluated.
"""

from __future__ import annotations

import ast
import inspect
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.cli import build_parser as _parser
from simulator import SimConfig, create_app, load_profile, open_server
from simulator.web._state import ORDERS

ROOT = Path(__file__).resolve().parents[2]
SOURCE_TREES = ("simulator", "harness", "scenarios")


# -- loopback binding --------------------------------------------------------------------------------------------


def test_racelab_serve_binds_loopback_by_default() -> None:
    args = _parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"


def test_open_server_binds_loopback_by_default() -> None:
    assert inspect.signature(open_server).parameters["host"].default == "127.0.0.1"


async def test_open_server_is_unreachable_from_another_interface() -> None:
    """Bound to loopback: the port answers on 127.0.0.1 and refuses a connection to this machine's other address."""
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    async with open_server(load_profile("instant")) as (_, url), aiohttp.ClientSession() as session:
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        async with session.get(f"{url}/_sim/health") as resp:
            assert resp.status == 200
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"http://{address}:{port}/_sim/health"):
                pass


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("harness/drive/embedded.py", '"serve", "--host", "127.0.0.1"'),
        ("harness/pytest_plugin.py", 'host="127.0.0.1"'),
        ("harness/drive/hooks.py", '"127.0.0.1", 0'),
    ],
)
def test_what_racelab_starts_itself_binds_loopback(path: str, needle: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    assert needle in source
    assert "0.0.0.0" not in source


# -- the control API from another machine ------------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback: the source address of a route to a TEST-NET host
    (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@dataclass
class Remote:
    """A simulator bound to a non-loopback address, reached from that address: to it, a remote client."""

    url: str
    session: aiohttp.ClientSession
    app: Any

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.url + path, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


async def open_remote(config: SimConfig) -> AsyncIterator[Remote]:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address (the access rule itself: test_control_api.py)")
    async with (
        open_server(config, host=address) as (app, url),
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0))) as session,
    ):
        yield Remote(url, session, app)


@pytest.fixture
async def remote() -> AsyncIterator[Remote]:
    async for r in open_remote(load_profile("instant")):
        yield r


@pytest.fixture
async def remote_with_token() -> AsyncIterator[Remote]:
    async for r in open_remote(load_profile("instant", overrides={"auth": {"control_token": "s3cret"}})):
        yield r


FORBIDDEN = "CONTROL-FORBIDDEN"


async def test_control_api_refuses_a_remote_client_without_a_token(remote: Remote) -> None:
    seed = {"orderId": "R-1", "items": [{"id": "a", "price": 100, "quantity": 1}]}
    for method, path, body in [
        ("GET", "/_sim/health", None),
        ("GET", "/_sim/config", None),
        ("POST", "/_sim/orders", seed),
        ("POST", "/_sim/reset", None),
        ("PATCH", "/_sim/config", {"auth": {"control_token": None}}),
    ]:
        status, answer = await remote.call(method, path, json=body)
        assert status == 403, (method, path, answer)
        assert answer["error"]["code"] == FORBIDDEN
        assert "loopback" in answer["error"]["message"]
    assert len(remote.app[ORDERS].store) == 0


async def test_a_forwarded_for_header_does_not_make_a_remote_client_local(remote: Remote) -> None:
    for header in ({"X-Forwarded-For": "127.0.0.1"}, {"Forwarded": "for=127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}):
        status, answer = await remote.call("GET", "/_sim/health", headers=header)
        assert status == 403, (header, answer)


async def test_the_modelled_apis_answer_remote_clients(remote: Remote) -> None:
    """Only `/_sim/` is kept to loopback: binding elsewhere is an explicit choice to serve the APIs there."""
    status, answer = await remote.call("GET", "/api/oms/pvt/orders/NOPE")
    assert status == 404, answer
    assert answer["error"]["code"] == "OMS007"


async def test_control_api_accepts_a_remote_client_with_the_token(remote_with_token: Remote) -> None:
    status, answer = await remote_with_token.call("GET", "/_sim/health", headers={"X-Racelab-Token": "s3cret"})
    assert status == 200, answer
    for wrong in ({"X-Racelab-Token": "S3CRET"}, {"X-Racelab-Token": ""}, {}):
        status, answer = await remote_with_token.call("GET", "/_sim/health", headers=wrong)
        assert status == 403, (wrong, answer)


def test_no_token_is_configured_by_default() -> None:
    assert SimConfig().auth.control_token is None
    for profile in sorted((ROOT / "scenarios" / "profiles").glob("*.yaml")):
        assert load_profile(profile).auth.control_token is None, profile.name


# -- request size limit -------------------------------------------------------------------------------------------


def test_the_default_body_limit_is_finite_in_every_profile() -> None:
    default = SimConfig().limits.max_body_bytes
    assert default == 256 * 1024
    for profile in sorted((ROOT / "scenarios" / "profiles").glob("*.yaml")):
        assert load_profile(profile).limits.max_body_bytes <= default, profile.name


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/api/order-system/orders/ORD-1/changes", "orders"),
        ("/accounting/v1/businesses/1000/customers/C-1/orders/ORD1/payments", "accounting"),
        ("/_sim/orders", "control"),
    ],
)
async def test_a_body_over_the_default_limit_is_413_in_the_service_shape(path: str, shape: str) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    config = load_profile("default")
    limit = config.limits.max_body_bytes
    async with TestClient(TestServer(create_app(config))) as client:
        body = json.dumps({"reason": "x" * limit}).encode()
        method = "PATCH" if "changes" in path else "POST"
        resp = await client.request(method, path, data=body, headers={"Content-Type": "application/json"})
        answer = await resp.json()
        assert resp.status == 413, answer
        if shape == "accounting":
            assert answer["code"] == 413
            assert str(limit) in answer["description"]
        else:
            assert answer["error"]["code"] == "PAYLOAD-TOO-LARGE"
            assert str(limit) in answer["error"]["message"]


# -- no unsafe YAML, no eval ----------------------------------------------------------------------------------------


UNSAFE_YAML = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}
UNSAFE_LOADERS = {"Loader", "UnsafeLoader", "FullLoader", "UnsafeConstructor", "FullConstructor", "Constructor"}
EVALUATORS = {"eval", "exec", "compile"}
UNSAFE_DESERIALIZERS = {("pickle", "load"), ("pickle", "loads"), ("marshal", "load"), ("marshal", "loads")}


def findings(source: str, path: str) -> Iterator[str]:
    """Every unsafe YAML load, loader class, eval/exec/compile call and pickle/marshal load in `source`."""
    tree = ast.parse(source, filename=path)
    yaml_aliases = {"yaml"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yaml_aliases |= {a.asname or a.name for a in node.names if a.name == "yaml"}
        elif isinstance(node, ast.ImportFrom) and node.module == "yaml":
            for alias in node.names:
                if alias.name in UNSAFE_YAML | UNSAFE_LOADERS:
                    yield f"{path}:{node.lineno} imports yaml.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if owner in yaml_aliases and attr in UNSAFE_YAML | UNSAFE_LOADERS:
                yield f"{path}:{node.lineno} uses yaml.{attr}"
            if (owner, attr) in UNSAFE_DESERIALIZERS:
                yield f"{path}:{node.lineno} uses {owner}.{attr}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in EVALUATORS:
            yield f"{path}:{node.lineno} calls {node.func.id}()"


def source_files() -> list[Path]:
    files = [p for tree in SOURCE_TREES for p in sorted((ROOT / tree).rglob("*.py"))]
    return [p for p in files if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]


def test_no_unsafe_yaml_no_eval_in_simulator_harness_and_scenarios() -> None:
    found = [f for p in source_files() for f in findings(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert found == []


def test_the_walk_covers_the_three_trees_and_their_yaml_readers() -> None:
    rel = {p.relative_to(ROOT).as_posix() for p in source_files()}
    assert {"simulator/config.py", "harness/scenarios/loading.py", "harness/cli/__init__.py"} <= rel
    readers = [p for p in source_files() if "yaml." in p.read_text(encoding="utf-8")]
    assert {"simulator/config.py", "harness/scenarios/loading.py"} <= {p.relative_to(ROOT).as_posix() for p in readers}


SAMPLE = """
import yaml
import yaml as y
from yaml import FullLoader, safe_load
import pickle

yaml.safe_load(text)
yaml.compose(text)
yaml.load(text, Loader=yaml.Loader)
y.unsafe_load(text)
y.full_load_all(text)
eval("1 + 1")
exec(code)
compile(src, "f", "exec")
pickle.loads(blob)
re.compile("x")
spec.loader.exec_module(module)
"""


def test_the_walk_finds_every_unsafe_form() -> None:
    assert sorted(f.split(" ", 1)[1] for f in findings(SAMPLE, "sample.py")) == sorted(
        [
            "imports yaml.FullLoader",
            "uses yaml.load",
            "uses yaml.Loader",
            "uses yaml.unsafe_load",
            "uses yaml.full_load_all",
            "calls eval()",
            "calls exec()",
            "calls compile()",
            "uses pickle.loads",
        ]
    )
