#!/bin/bash
# The stand-in image's entrypoint. It keeps the contract of Besu's own (app/src/main/scripts/
# besu-entry.sh at 26.2.0 and 26.8.0): run as non-root, start Besu as is; run as root, ask Besu
# which paths it needs (--print-paths-and-exit), hand those to the besu user, then run Besu as it.
set -u
besu=/opt/besu/bin/besu
if [ "$(id -u)" -ne 0 ]; then
  exec "$besu" "$@"
fi
while IFS=: read -r tag path access; do
  [[ $tag == PERMISSION_CHECK_PATH ]] || continue
  chown -R "$BESU_USER_NAME:$BESU_USER_NAME" "$path"
  if [[ $access == READ ]]; then
    find "$path" -type d -exec chmod u+rx {} +
    find "$path" -type f -exec chmod u+r {} +
  else
    find "$path" -type d -exec chmod u+rwx {} +
    find "$path" -type f -exec chmod u+rw {} +
  fi
done < <("$besu" --print-paths-and-exit "$BESU_USER_NAME" "$@")
# Besu's image uses su; setpriv does the same switch without PAM.
exec setpriv --reuid=1000 --regid=1000 --clear-groups "$besu" "$@"
