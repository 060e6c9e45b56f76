# Shared by the scripts in this folder: create ./.venv and install the project into it.
# Usage: source scripts/_venv.sh EXTRAS   (EXTRAS e.g. "test" or "" )
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
extras="${1:-}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV"; then
        echo "error: could not create a virtual environment; on Debian: apt-get install python3-venv" >&2
        exit 1
    fi
fi
stamp="$VENV/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "Installing cc-backend${extras:+ [$extras]} into .venv ..."
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT${extras:+[$extras]}"
    touch "$stamp"
fi
