"""`edge-scan app`: the health worker's screen, a local web app over the same functions as edge-scan.

A layer beside the command line: views stay thin over scan.scanner, storage.history,
site.*, updates.* and outputs.*, so a scan made here is the scan `edge-scan scan`
makes, in the same history. Templates autoescape; every stylesheet and icon is in
static/; nothing is fetched from anywhere but the app itself.
"""
