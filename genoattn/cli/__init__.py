"""The typer app behind the ``genoattn`` command (one thin module per command)."""
