#!/usr/bin/env bash
# Resolve nnbench's dependencies afresh and write every installed package, pinned with ==, to the
# lock file (default requirements/lock.txt) that `make install` installs from.
#
# A throwaway venv gets exactly what `make install` runs, without the lock: the newest pip, then
# `pip install -e '.[dev]'` (dev includes the cluster extra; the gpu extra is left out). Its
# `pip freeze` becomes the lock. pip's own configuration (indexes, constraint files) still applies
# and the header records any constraint files it names. Run it through `make lock`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LOCK=${1:-requirements/lock.txt}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnbench-lock.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
py="$tmp/venv/bin/python"

"$py" -m pip install --quiet --upgrade pip
# What the bare venv came with (pip, and setuptools on Python < 3.12): pip is pinned because
# make install upgrades it; the rest is left out unless the install below changed it.
"$py" -m pip freeze --all > "$tmp/bare.txt"
"$py" -m pip install --quiet -e '.[dev]'
"$py" -m pip freeze --all --exclude-editable > "$tmp/full.txt"

mkdir -p "$(dirname "$LOCK")"
{
    echo "# Every package \`make install\` installs, pinned: one resolution of nnbench's '.[dev]' extra"
    echo "# (dev includes cluster; gpu is not locked). make install runs"
    echo "#   pip install -c $LOCK -e '.[dev]'"
    echo "# Written by \`make lock\` (scripts/lock.sh): pip install -e '.[dev]' with no version pins into a"
    echo "# fresh venv, then pip freeze. Valid for the Python and platform below; refresh with make lock."
    echo "# made: $(date -u +%Y-%m-%d)"
    "$py" - <<'EOF'
import platform, subprocess, sys, sysconfig
print(f"# python: {platform.python_implementation()} {platform.python_version()}")
print(f"# platform: {sysconfig.get_platform()}")
libc = " ".join(platform.libc_ver())
if libc.strip():
    print(f"# libc: {libc}")
from importlib.metadata import version
print(f"# pip: {version('pip')}")
out = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                     capture_output=True, text=True).stdout
for line in out.splitlines():
    key, _, value = line.partition("=")
    if key.endswith(".constraint"):
        for path in value.strip("'\"").split():
            try:
                pins = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
            except OSError:
                pins = ["(unreadable)"]
            print(f"# pip's configured constraints ({key}, {path}): {', '.join(pins)}")
EOF
    # The pins, sorted by name: what the install added or changed, and pip.
    { grep -v -x -F -f "$tmp/bare.txt" "$tmp/full.txt" || true; grep -i '^pip==' "$tmp/full.txt"; } \
        | LC_ALL=C sort -f -u
} > "$LOCK.tmp"
mv "$LOCK.tmp" "$LOCK"
echo "wrote $LOCK: $(grep -c '==' "$LOCK") pins"
