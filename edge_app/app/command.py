"""`edge-scan app`: serve the health worker's screen in the browser.

A Click command of the app's own; the `edge-scan` entry point (edge_app.__main__) adds it to the command
line's group, so neither front door imports the other."""

from __future__ import annotations

import click

SET_PASSWORD_COMMAND = "edge-scan operators set NAME"
"""The command (edge_app.cli.operators) that gives an operator a password."""


@click.command(name="app")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; 0.0.0.0 for every network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the app in this computer's web browser.")
def app_command(host: str, port: int, open_browser: bool) -> None:
    """Serve the health worker's app: screen, read results, print referral slips, see the history.

    On 127.0.0.1 (the default) only this device can open it, and no setup is needed.
    On a network (--host) every operator logs in, so it refuses to start until
    operators with passwords exist (edge-scan operators set NAME). Stop with Ctrl+C.
    """
    from edge_app.app.security import is_loopback
    from edge_app.storage import operators

    network = not is_loopback(host)
    if network:
        try:
            names = operators.names()
        except operators.OperatorError as exc:
            raise click.UsageError(str(exc)) from exc
        if not names:
            raise click.UsageError(
                f"--host {host} would let other devices on the network open the app, so every operator must log in, "
                f"and no operator has a password yet. Set one first: {SET_PASSWORD_COMMAND}"
            )
    _serve(host, port, network, open_browser)


def _serve(host: str, port: int, network: bool, open_browser: bool) -> None:
    from edge_app.app.server import Settings, create_app, serve
    from edge_app.files import NotARegularFile
    from edge_app.storage.paths import config_dir, data_dir

    def announce(url: str) -> None:
        click.echo(f"PneumoScan is ready: open {url} in a web browser. Stop with Ctrl+C.", err=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        app = create_app(Settings(data_dir(), config_dir(), network))
    except NotARegularFile as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        serve(app, host, port, announce)
    except OSError as exc:
        raise click.ClickException(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}). Try another --port."
        ) from exc
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
