"""``python -m genzoo`` runs the command line."""

from .cli import main

main(prog_name="genzoo")
