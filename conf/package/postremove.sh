#!/bin/sh
# dpkg --purge also removes brun's state (the agent's offsets). The user
# brun stays, as Debian does for system users: files it owned elsewhere
# must not pass to a later user given the same uid.
set -e
if [ "$1" = purge ]; then
	rm -rf /var/lib/brun
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
