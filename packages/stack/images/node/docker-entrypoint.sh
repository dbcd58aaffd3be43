#!/bin/sh
# Same rule as the official node image: if the first argument is an option
# (-e, --version, ...) or a file that is not an executable command, run it with node.
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
