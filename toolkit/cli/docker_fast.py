"""A typer-free path for ``ovlab docker doctor`` (benchmarked as a whole process against a
shell script, bench/bench_docker.py).

Returns None, having done nothing, for anything it does not fully understand (--help,
--fix, unknown options): the typer app in toolkit.cli.docker then handles it.
"""

from __future__ import annotations

from toolkit.cli.common import emit_json, needs_root

_VALUE = {"--host", "-H", "--network"}


def parse(argv: list[str]) -> tuple[list[str], str | None, bool] | None:
    """``[--host|-H X]… [--network NET] [--json]`` as (hosts, network, json); None otherwise."""
    hosts: list[str] = []
    network: str | None = None
    as_json = False
    i = 0
    while i < len(argv):
        arg, value = argv[i], None
        if "=" in arg and arg.split("=", 1)[0] in _VALUE:
            arg, value = arg.split("=", 1)
        if arg == "--json" and value is None:
            as_json = True
        elif arg in _VALUE:
            if value is None:
                if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                    return None
                value, i = argv[i + 1], i + 1
            if arg == "--network":
                if network is not None:
                    return None
                network = value
            else:
                hosts.append(value)
        else:
            return None
        i += 1
    return hosts, network, as_json


def fast_doctor(argv: list[str]) -> int | None:
    """Run ``docker doctor`` without typer; its exit code, or None to let typer handle it."""
    parsed = parse(argv)
    if parsed is None:
        return None
    return _doctor(*parsed)


@needs_root()
def _doctor(hosts: list[str], network: str | None, as_json: bool) -> int:
    from toolkit.docker.doctor import diagnose

    report = diagnose(hosts, network)
    if as_json:
        emit_json("docker doctor", report)
    else:
        from toolkit.render.doctor import print_report

        print_report(report)  # type: ignore[arg-type]
    return report.exit_code
