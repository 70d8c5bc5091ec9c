#!/bin/sh
# Install PneumoScan from this folder, with no internet: checks every file, makes a
# virtual environment, installs the wheels in wheels/ only, then runs the self-test.
# Usage: sh install.sh [FOLDER]     (default FOLDER: $HOME/pneumoscan)
# Set PYTHON to choose the interpreter (default: python@PYTHON_VERSION@, then python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-"$HOME/pneumoscan"}
python=${PYTHON:-}
if [ -z "$python" ]; then
    if command -v python@PYTHON_VERSION@ >/dev/null 2>&1; then python=python@PYTHON_VERSION@; else python=python3; fi
fi

if ! "$python" -c 'import sys; sys.exit(0 if "%d.%d" % sys.version_info[:2] == "@PYTHON_VERSION@" else 1)'; then
    echo "This bundle is for Python @PYTHON_VERSION@, but $python is Python $("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')." >&2
    echo "Install Python @PYTHON_VERSION@, or make a bundle for this Python (edge-export bundle --python X.Y)." >&2
    exit 1
fi

echo "Checking the files of the bundle ..."
cd "$here"
if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -c --quiet SHA256SUMS
else
    shasum -a 256 -c --quiet SHA256SUMS
fi

echo "Creating $target ..."
"$python" -m venv "$target"
"$target/bin/python" -m pip install --quiet --no-index --find-links "$here/wheels" "@REQUIREMENT@"

echo "Running the self-test ..."
"$target/bin/edge-scan" selftest
echo
echo "PneumoScan is installed. To scan: $target/bin/edge-scan scan --samples"
