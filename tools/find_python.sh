#!/usr/bin/env sh
# Print the path of a working Python X.Y interpreter, or nothing (exit 1) with the places tried on stderr.
# Usage: tools/find_python.sh 3.13
# Tried in order: pythonX.Y on PATH (a pyenv shim there only works when pyenv has X.Y selected, so it
# is run, not just found), pyenv's own installs of X.Y, then /usr/local/bin and /usr/bin.
want=$1
works() { [ -n "$1" ] && "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null; }
candidates="$(command -v "python$want" 2>/dev/null)"
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/"$want"*; do candidates="$candidates $dir/bin/python$want"; done
fi
candidates="$candidates /usr/local/bin/python$want /usr/bin/python$want"
for python in $candidates; do
  if works "$python"; then echo "$python"; exit 0; fi
done
echo "no working Python $want found (tried: python$want on PATH, pyenv versions $want.*, /usr/local/bin, /usr/bin)" >&2
exit 1
