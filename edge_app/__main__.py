"""The `edge-scan` program: the command line's group with the app's command added.

The console script and `python -m edge_app` (for when the script is not on PATH) both start here: this
module sits above the two front doors (edge_app.cli and edge_app.app) and puts them together.
"""

from edge_app.app.command import app_command
from edge_app.cli.main import main

main.add_command(app_command)

if __name__ == "__main__":
    main(prog_name="edge-scan")
