import typer

app = typer.Typer(help="placeholder")
