"""How a walkthrough looks on the terminal: a panel per step, each command and its checks."""

from __future__ import annotations

from rich.markdown import Markdown
from rich.panel import Panel

from toolkit.render.console import prose_console
from toolkit.walk.model import Step
from toolkit.walk.runner import StepResult

console = prose_console()


def step_intro(step: Step, total: int) -> None:
    """The step's title and explanation, before it runs."""
    console.print()
    console.print(
        Panel(
            Markdown(step.explain),
            title=f"[bold]Step {step.number}/{total}: {step.title}",
            title_align="left",
            border_style="cyan",
        )
    )


def step_outcome(result: StepResult) -> None:
    """Each command with its output, then a verdict line per failed check."""
    for c in result.commands:
        # Commands and their output are kept whole (soft wrap): only the prose boxes wrap.
        console.print(f"[bold green]$[/] [bold]{c.cmd}[/]", soft_wrap=True)
        console.print(c.output.rstrip(), markup=False, highlight=False, soft_wrap=True)
        for msg in c.failed:
            console.print(f"[bold red]✗ {msg}[/]")
    verdict = "[green]✓ step passed[/]" if result.ok else "[red]✗ step failed[/]"
    console.print(f"{verdict} [dim]({result.step.title}, {result.seconds:.1f}s)[/]")
