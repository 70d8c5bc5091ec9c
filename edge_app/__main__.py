"""`python -m edge_app` runs edge-scan (for when the console script is not on PATH)."""

from edge_app.cli.main import main

main(prog_name="edge-scan")
