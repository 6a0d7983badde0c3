"""`python -m mailsleuth` is the `mailsleuth` command."""

from .cli import app

app(prog_name="mailsleuth")
