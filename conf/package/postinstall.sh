#!/bin/sh
# The unit is installed but neither enabled nor started: it needs the
# endpoints in /etc/default/brun first (see brun.service).
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a running brun on the new binary.
	if systemctl is-active --quiet brun.service; then
		systemctl try-restart brun.service || true
	fi
fi
