#!/bin/sh
# Install the project and the extras named as arguments into .venv, at the versions of uv.lock.
#
# uv installs the locked versions in seconds. When uv is not on PATH it is installed with pip
# into .uv/ (a venv of its own); when that fails too, pip installs from pyproject.toml's
# ranges instead of the lock, and says so.
#
# Usage: scripts/install.sh dev        (make install / make test)
#        scripts/install.sh demo       (make demo)
set -eu
PYTHON=${PYTHON:-python3}
uv=$(command -v uv || true)
if [ -z "$uv" ]; then
    if [ ! -x .uv/bin/uv ]; then
        ("$PYTHON" -m venv .uv && .uv/bin/pip install -q --disable-pip-version-check uv) \
            || rm -rf .uv
    fi
    if [ -x .uv/bin/uv ]; then uv=.uv/bin/uv; fi
fi
if [ -n "$uv" ]; then
    extras=""
    for extra in "$@"; do extras="$extras --extra $extra"; done
    # --inexact: `make demo` after `make install` keeps the dev tools; the venv's Python is
    # the one make was given, never a download.
    UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=.venv \
        exec "$uv" sync --quiet --frozen --inexact --python "$PYTHON" $extras
fi
echo "uv could not be installed: installing with pip from pyproject.toml's ranges (not uv.lock)" >&2
"$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[$(echo "$@" | tr ' ' ,)]"
