"""The static walkthrough page: every step's title, explanation, command and output, a
failed check, the graph inline; Markdown rendered, HTML in it escaped. No lab."""

from __future__ import annotations

from pathlib import Path

from toolkit.serve import page
from toolkit.serve.walkrun import walk_record
from toolkit.walk.model import Check, Command, Step, Walk
from toolkit.walk.runner import CommandResult, StepResult

WALK = Walk(
    Path("labs/x/walk.yml"),
    "A <b>look</b>",
    "seed-demo",
    False,
    (
        Step(1, "Containers", "Each is an **endpoint**. <script>x</script>",
             (Command("ovlab ps --lab {lab}"),)),
        Step(2, "FDB", "One entry per remote endpoint.",
             (Command("ovlab netns fdb {lab}/vm1", (Check("contains", "dst"),)),)),
        Step(3, "Not reached", "…", (Command("ovlab doctor {lab}"),)),
    ),
)  # fmt: skip


def test_the_page_has_each_step_its_commands_and_their_output() -> None:
    results = {
        1: StepResult(WALK.steps[0], [CommandResult("ovlab ps --lab L", 0, "c1  10.0.0.2\n")]),
        2: StepResult(
            WALK.steps[1],
            [
                CommandResult(
                    "ovlab netns fdb L/vm1", 0, "<none>", ["expected: output contains 'dst'"]
                )
            ],
        ),
    }
    record = walk_record(WALK, "L", results)
    html = page.walk_html(record, '<svg id="g"><title>vm:vm1</title></svg>', None)
    assert "A &lt;b&gt;look&lt;/b&gt;" in html
    assert "<strong>endpoint</strong>" in html and "<script>" not in html
    assert "$ ovlab ps --lab L" in html and "c1  10.0.0.2" in html
    assert "&lt;none&gt;" in html and "expected: output contains &#x27;dst&#x27;" in html
    assert "✓ passed" in html and "✗ failed" in html
    assert "$ ovlab doctor {lab}" in html and "not run" in html
    assert '<svg id="g">' in html
    assert [s["number"] for s in record["steps"]] == [1, 2, 3]
    assert record["steps"][1]["ok"] is False and "ok" not in record["steps"][2]


def test_a_note_is_shown_when_the_graph_could_not_be_drawn() -> None:
    html = page.walk_html(walk_record(WALK, "L", {}), None, "no graph: lab is down")
    assert "no graph: lab is down" in html and "<svg" not in html


def test_the_handout_directory_is_checked_before_anything_runs(tmp_path: Path) -> None:
    import pytest

    from toolkit.errors import UsageError
    from toolkit.serve.export import check_out_dir

    check_out_dir(tmp_path / "new" / "deeper")  # made now, with its parents, and written to
    assert list((tmp_path / "new" / "deeper").iterdir()) == []
    (tmp_path / "afile").write_text("")
    with pytest.raises(UsageError) as err:
        check_out_dir(tmp_path / "afile")
    assert (err.value.message, err.value.hint) == (
        f"--html {tmp_path / 'afile'}: not a directory",
        "name a directory (made if missing)",
    )
    with pytest.raises(UsageError, match="cannot write there"):
        check_out_dir(tmp_path / "afile" / "below")
    # access() says yes to root under /proc, where mkdir fails: refused before the walk.
    with pytest.raises(UsageError, match="cannot write there"):
        check_out_dir(Path("/proc/ovlab-no-such-dir"))
