#!/bin/sh
# The brun service runs as the system user brun, which owns /var/lib/brun
# and reads logs through CAP_DAC_READ_SEARCH (brun.service).
set -e
if ! getent passwd brun >/dev/null; then
	useradd --system --user-group --no-create-home --home-dir /var/lib/brun \
		--shell /usr/sbin/nologin --comment "brun log shipper" brun
fi
