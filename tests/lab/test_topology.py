"""Topology files: golden error messages, the shipped labs, and the value parsers."""

from __future__ import annotations

import json
import random
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

import pytest
import yaml

from toolkit.errors import NotFound, UsageError
from toolkit.lab.topology import (
    MAX_NODES,
    Impairment,
    Node,
    Topology,
    Underlay,
    format_duration_ms,
    format_percent,
    format_rate_bps,
    load,
    loads,
    parse_duration_ms,
    parse_impairment,
    parse_percent,
    parse_rate_bps,
)

ROOT = Path(__file__).resolve().parents[2]
ERRORS = ROOT / "tests" / "errors"
GOLDEN = sorted(p.stem for p in ERRORS.glob("*.err"))

MINIMAL = """\
name: demo
underlay:
  subnet: 192.168.100.0/24
nodes:
  lab-vm-1:
    eth1: 192.168.100.23
"""


def _fails(text: str) -> UsageError:
    with pytest.raises(UsageError) as err:
        loads(text, "t.yml")
    return err.value


# --- golden error files ------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN)
def test_golden_error(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/errors/<case>.yml fails with exactly the message (and hint) in <case>.err.

    The .err file holds the message on its first line and, when there is one,
    'hint: ...' on the second. A missing .yml is itself the 'file missing' case.
    """
    expected = (ERRORS / f"{case}.err").read_text().splitlines()
    monkeypatch.chdir(ERRORS)  # messages then name the file as the user typed it
    with pytest.raises(UsageError) as err:
        load(f"{case}.yml")
    assert err.value.message == expected[0]
    hint = expected[1].removeprefix("hint: ") if len(expected) > 1 else None
    assert err.value.hint == hint
    assert len(expected) <= 2


@pytest.mark.parametrize("case", GOLDEN)
def test_golden_messages_follow_the_style(case: str) -> None:
    """One line, FILE[:LINE]: then lowercase text, no trailing period."""
    message, *rest = (ERRORS / f"{case}.err").read_text().splitlines()
    assert message.startswith(f"{case}.yml:")
    problem = message.split(": ", 1)[1]
    assert problem[:1] and not problem[0].isupper()
    assert not message.endswith(".")
    assert "Traceback" not in message
    for line in rest:
        assert line.startswith("hint: ") and not line.endswith(".")


def test_every_golden_input_has_an_expectation() -> None:
    inputs = {p.stem for p in ERRORS.glob("*.yml")}
    assert inputs - set(GOLDEN) == set()
    assert set(GOLDEN) - inputs == {"missing-file"}
    assert len(GOLDEN) >= 40


def test_golden_example_from_the_spec() -> None:
    """The brief's own example, kept literal so a wording change shows up here."""
    text = (ERRORS / "eth1-outside-subnet.err").read_text().splitlines()[0]
    assert text == (
        "eth1-outside-subnet.yml:10: nodes.lab-vm-2.eth1: "
        "192.168.200.4 is not in underlay subnet 192.168.100.0/24"
    )


# --- shipped labs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lab", "count", "subnet", "servers"),
    [
        ("seed-demo", 2, "192.168.100.0/24", 1),
        ("ten-vm", 10, "192.168.110.0/24", 3),
        ("twenty-vm", 20, "192.168.120.0/24", 3),
        ("hundred-vm", 100, "192.168.130.0/24", 3),
    ],
)
def test_shipped_labs(lab: str, count: int, subnet: str, servers: int) -> None:
    path = ROOT / "labs" / lab / "topology.yml"
    topo = load(path)
    assert topo.name == lab and topo.path == path
    assert topo.underlay == Underlay(IPv4Network(subnet), 1500)
    assert len(topo.nodes) == count
    assert topo.node_names() == [f"lab-vm-{i}" for i in range(1, count + 1)]
    net = IPv4Network(subnet)
    assert [n.eth1 for n in topo.nodes] == [
        IPv4Interface((net.network_address + 22 + i, 24)) for i in range(1, count + 1)
    ]
    groups = topo.groups()
    assert len(groups["consul_servers"]) == servers
    assert len(groups["consul_clients"]) == count - servers
    assert all(n.impair.is_empty for n in topo.nodes)

    data = topo.to_dict()
    json.dumps(data)  # JSON-ready as is
    assert list(data["nodes"]) == topo.node_names()
    assert data["nodes"]["lab-vm-1"]["eth1"] == str(net.network_address + 23)
    assert data["nodes"]["lab-vm-1"]["groups"] == ["consul_servers"]
    again = loads(yaml.safe_dump(data, sort_keys=False))
    assert again == topo


def test_seed_demo_mirrors_the_libnetwork_demo() -> None:
    topo = load(ROOT / "labs" / "seed-demo" / "topology.yml")
    assert topo.node("lab-vm-1").eth1 == IPv4Interface("192.168.100.23/24")
    assert topo.node("lab-vm-1").groups == ("consul_servers",)
    assert topo.node("lab-vm-2").eth1 == IPv4Interface("192.168.100.24/24")
    assert topo.node("lab-vm-2").groups == ("consul_clients",)


def test_full_round_trip_with_everything_set() -> None:
    text = """\
name: full
underlay: {subnet: 10.0.0.0/30, mtu: 9000}
vars: {consul_version: "1.18", ports: [8300, 8301], nested: {when: 2024-01-01, enabled: yes}}
nodes:
  a:
    eth1: 10.0.0.1
    groups: [g1, g2]
    impair: {delay: 1.5s, jitter: 250us, loss: 0.5%, rate: 1500kbit}
    vars: {role: server}
  b:
    eth1: 10.0.0.2
"""
    topo = loads(text)
    a = topo.node("a")
    assert a.impair == Impairment(1500.0, 0.25, 0.5, 1_500_000)
    assert a.vars == {"role": "server"}
    assert topo.vars == {
        "consul_version": "1.18",
        "ports": [8300, 8301],
        "nested": {"when": "2024-01-01", "enabled": True},  # dates stay text for JSON and Ansible
    }
    assert topo.underlay.mtu == 9000
    assert topo.node("b") == Node("b", IPv4Interface("10.0.0.2/30"))
    assert loads(yaml.safe_dump(topo.to_dict())) == topo
    assert loads(json.dumps(topo.to_dict())) == topo


# --- loader edge cases -------------------------------------------------------


def test_defaults_and_nulls() -> None:
    topo = loads(
        MINIMAL.replace(
            "eth1: 192.168.100.23", "eth1: 192.168.100.23\n    groups:\n    impair:\n    vars:"
        )
    )
    node = topo.nodes[0]
    assert (node.groups, node.impair, node.vars) == ((), Impairment(), {})
    assert topo.underlay.mtu == 1500 and topo.vars == {} and topo.path is None


def test_source_label_defaults() -> None:
    with pytest.raises(UsageError) as err:
        loads("name: demo\n")
    assert err.value.message.startswith("<string>:1: underlay: missing required key")


def test_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.yml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load(path).name == "demo"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        load(tmp_path)
    assert err.value.message == f"{tmp_path}: cannot read topology: is a directory"
    assert err.value.hint == f"pass the file itself, e.g. {tmp_path / 'topology.yml'}"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.yml"
    path.write_text(MINIMAL)

    def denied(self: Path) -> bytes:  # root reads any file, so fake the kernel's answer
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(UsageError) as err:
        load(path)
    assert err.value.message == f"{path}: cannot read topology: permission denied"
    assert err.value.hint == "make the file readable, or run as a user who can read it"


def test_node_limit_is_inclusive() -> None:
    def lab(n: int) -> str:
        body = "".join(f"  vm{i}:\n    eth1: 10.1.{i // 250}.{i % 250 + 1}\n" for i in range(n))
        return "name: big\nunderlay:\n  subnet: 10.1.0.0/16\nnodes:\n" + body

    assert len(loads(lab(MAX_NODES)).nodes) == MAX_NODES
    assert (
        _fails(lab(MAX_NODES + 1)).message == "t.yml:4: nodes: 201 nodes, at most 200 are supported"
    )


def test_smallest_subnet() -> None:
    text = MINIMAL.replace("192.168.100.0/24", "192.168.100.0/30").replace(".23", ".1")
    assert loads(text).nodes[0].eth1 == IPv4Interface("192.168.100.1/30")


def test_duplicate_keys_inside_vars() -> None:
    err = _fails(MINIMAL + "vars:\n  a: {x: 1, x: 2}\n")
    assert err.message == "t.yml:8: vars.a.x: duplicate key (first defined on line 8)"


def test_recursive_alias_in_vars() -> None:
    assert (
        _fails(MINIMAL + "vars:\n  a: &x [*x]\n").message == "t.yml:8: vars.a[0]: recursive alias"
    )


def test_alias_bomb_in_vars() -> None:
    levels = ["  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        prev = f"*l{i - 1}"
        levels.append(f"  l{i}: &l{i} [{', '.join([prev] * 10)}]")
    err = _fails(MINIMAL + "vars:\n" + "\n".join(levels) + "\n")
    assert "too large after expanding aliases" in err.message


@pytest.mark.parametrize(
    ("value", "tag"),
    [("!!set {a, b}", "!!set"), ("!!binary aGk=", "!!binary"), ("!!omap [a: 1]", "!!omap")],
)
def test_vars_reject_non_plain_yaml(value: str, tag: str) -> None:
    err = _fails(MINIMAL + f"vars:\n  b: {value}\n")
    assert err.message == f"t.yml:8: vars.b: unsupported YAML tag {tag}"


def test_bool_like_keys_are_caught() -> None:
    err = _fails(MINIMAL + "vars:\n  nested: {on: 1}\n")
    assert err.message == "t.yml:8: vars.nested: keys must be strings, got a boolean"
    assert err.hint == "quote the key"


def test_aliases_in_vars_are_fine_when_small() -> None:
    topo = loads(MINIMAL + "vars:\n  a: &x {k: 1}\n  b: *x\n")
    assert topo.vars == {"a": {"k": 1}, "b": {"k": 1}}


def test_jitter_needs_a_nonzero_delay() -> None:
    text = MINIMAL + "    impair: {delay: 0ms, jitter: 5ms}\n"
    assert (
        _fails(text).message == "t.yml:7: nodes.lab-vm-1.impair.jitter: jitter set without a delay"
    )


def test_first_problem_in_file_order_wins() -> None:
    # name is checked before underlay, underlay before nodes
    text = "name: Bad\nunderlay: {subnet: 1.2.3.4/24}\nnodes: []\n"
    assert _fails(text).message.startswith("t.yml:1: name: ")


# --- the model -----------------------------------------------------------------


def test_node_lookup_suggests_close_names() -> None:
    topo = load(ROOT / "labs" / "seed-demo" / "topology.yml")
    with pytest.raises(NotFound) as err:
        topo.node("lab-vm-3")
    assert err.value.message == "lab seed-demo has no node 'lab-vm-3'"
    assert err.value.hint == "did you mean 'lab-vm-2' or 'lab-vm-1'?"
    with pytest.raises(NotFound) as err:
        topo.node("zzz")
    assert err.value.hint == "its nodes are lab-vm-1, lab-vm-2"


def test_models_are_frozen_and_hashable() -> None:
    topo = loads(MINIMAL)
    with pytest.raises(AttributeError):
        topo.name = "other"  # type: ignore[misc]
    assert hash(topo.nodes[0]) == hash(loads(MINIMAL).nodes[0])
    assert isinstance(topo, Topology)


# --- value parsers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("20ms", 20.0),
        ("0ms", 0.0),
        ("500us", 0.5),
        ("1us", 0.001),
        ("1.5s", 1500.0),
        ("1.1s", 1100.0),
        (".5ms", 0.5),
        ("20 ms", 20.0),
        ("20MS", 20.0),
        ("20msec", 20.0),
        ("60s", 60000.0),
        (" 7ms ", 7.0),
    ],
)
def test_parse_duration(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20", "--delay: 20 has no unit"),
        ("20m", "--delay: 20m has an unknown unit 'm'"),
        ("-1ms", "--delay: -1ms must not be negative"),
        ("60.001s", "--delay: 60.001s is out of range 0..60s"),
        ("fast", "--delay: 'fast' is not a number with a unit"),
        ("", "--delay: '' is not a number with a unit"),
        ("1e3ms", "--delay: '1e3ms' is not a number with a unit"),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_duration_ms(text, "--delay")
    assert err.value.message == message
    assert err.value.hint == "write a number and a unit: us, ms or s, e.g. 20ms"


@pytest.mark.parametrize(
    ("text", "pct"), [("1%", 1.0), ("0%", 0.0), ("100%", 100.0), ("0.25%", 0.25), ("5 %", 5.0)]
)
def test_parse_percent(text: str, pct: float) -> None:
    assert parse_percent(text) == pct


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1", "--loss: 1 has no % sign"),
        ("1pct", "--loss: 1pct has unit 'pct', not %"),
        ("100.5%", "--loss: 100.5% is out of range 0%..100%"),
        ("-1%", "--loss: -1% must not be negative"),
    ],
)
def test_parse_percent_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_percent(text, "--loss")
    assert err.value.message == message


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("10mbit", 10_000_000),
        ("1kbit", 1_000),
        ("1000bit", 1_000),
        ("1.5mbit", 1_500_000),
        ("100gbit", 100_000_000_000),
        ("10Mbit", 10_000_000),
    ],
)
def test_parse_rate(text: str, bps: int) -> None:
    assert parse_rate_bps(text) == bps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10", "--rate: 10 has no unit"),
        ("10mbps", "--rate: 10mbps is ambiguous (tc reads mbps as bytes per second)"),
        ("10Mbps", "--rate: 10Mbps is ambiguous (tc reads mbps as bytes per second)"),
        ("999bit", "--rate: 999bit is out of range 1kbit..100gbit"),
        ("101gbit", "--rate: 101gbit is out of range 1kbit..100gbit"),
        ("0mbit", "--rate: 0mbit is out of range 1kbit..100gbit"),
        ("10tbit", "--rate: 10tbit has an unknown unit 'tbit'"),
    ],
)
def test_parse_rate_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_rate_bps(text, "--rate")
    assert err.value.message == message


def test_formatting() -> None:
    assert format_duration_ms(20.0) == "20ms"
    assert format_duration_ms(0.25) == "0.25ms"
    assert format_duration_ms(1500.0) == "1500ms"
    assert format_percent(1.0) == "1%"
    assert format_percent(0.001) == "0.001%"
    assert format_rate_bps(10_000_000) == "10mbit"
    assert format_rate_bps(1_500_000) == "1500kbit"
    assert format_rate_bps(2_000_000_000) == "2gbit"
    assert format_rate_bps(1234) == "1234bit"


# Round trips over a fixed pseudo-random sample (no hypothesis: it leaves a .hypothesis/ behind).
_RNG = random.Random(20)


@pytest.mark.parametrize("us", [0, 1, 999, 1000, 60_000_000, *_RNG.sample(range(60_000_000), 300)])
def test_duration_round_trip(us: int) -> None:
    ms = parse_duration_ms(f"{us}us")
    assert parse_duration_ms(format_duration_ms(ms)) == ms


@pytest.mark.parametrize(
    "bps", [1_000, 1_001, 10**6, 10**11, *_RNG.sample(range(1_000, 10**11), 300)]
)
def test_rate_round_trip(bps: int) -> None:
    assert parse_rate_bps(format_rate_bps(bps)) == bps


@pytest.mark.parametrize("thousandths", [0, 1, 100_000, *_RNG.sample(range(100_000), 300)])
def test_percent_round_trip(thousandths: int) -> None:
    pct = parse_percent(f"{thousandths / 1000}%")
    assert parse_percent(format_percent(pct)) == pct


# --- impairments ---------------------------------------------------------------


def test_impairment_basics() -> None:
    assert Impairment().is_empty
    imp = parse_impairment({"delay": "20ms", "jitter": "5ms", "loss": "1%", "rate": "10mbit"})
    assert imp == Impairment(20.0, 5.0, 1.0, 10_000_000)
    assert not imp.is_empty
    assert imp.to_dict() == {"delay": "20ms", "jitter": "5ms", "loss": "1%", "rate": "10mbit"}
    assert Impairment.from_dict(imp.to_dict()) == imp
    assert imp.describe() == "delay 20ms ±5ms, loss 1%, rate 10mbit"
    assert Impairment().describe() == "none"
    assert Impairment().to_dict() == {}


def test_impairment_skips_unset_cli_options() -> None:
    imp = parse_impairment({"delay": None, "loss": "2%", "rate": None})
    assert imp == Impairment(loss_pct=2.0)


def test_impairment_labels() -> None:
    with pytest.raises(UsageError) as err:
        parse_impairment({"delay": "20"})
    assert err.value.message == "impair.delay: 20 has no unit"
    with pytest.raises(UsageError) as err:
        parse_impairment({"jitter": "5ms"}, lambda key: f"--{key}")
    assert err.value.message == "--jitter: jitter set without a delay"
    with pytest.raises(UsageError) as err:
        parse_impairment({"los": "1%"}, "")
    assert err.value.message == "los: unknown impairment"
    assert err.value.hint == "did you mean 'loss'?"


def test_impairment_rejects_non_text() -> None:
    with pytest.raises(UsageError) as err:
        parse_impairment({"loss": True})
    assert err.value.message == "impair.loss: expected a value like 20ms, got bool"
