"""`python -m mailsleuth` is the `mailsleuth` command."""

from mailsleuth.cli.main import app

app(prog_name="mailsleuth")
