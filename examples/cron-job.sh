#!/usr/bin/env bash
# A nightly cron job whose steps are grouped into one eventlog group with `eventlog log`.
#
# Run with: EVENTLOG_DATABASE_URL=sqlite://eventlog.db examples/cron-job.sh
# (needs `eventlog` on PATH: `cargo install --path crates/eventlog-cli`, or set EVENTLOG=path)
set -euo pipefail

EVENTLOG=${EVENTLOG:-eventlog}
job="nightly-backup"

# The first call starts a new group and prints its id; later calls continue it.
group=$("$EVENTLOG" log info "Backup started" --initiator "cron:$job")

if archive_size=$(du -sb "${BACKUP_SOURCE:-/etc}" 2>/dev/null | cut -f1); then
    "$EVENTLOG" log info "Archive written" --group "$group" --initiator "cron:$job" \
        --data "{\"bytes\": $archive_size}" >/dev/null
else
    "$EVENTLOG" log error "Could not read the backup source" --group "$group" \
        --initiator "cron:$job" >/dev/null
    exit 1
fi

"$EVENTLOG" log info "Backup finished" --group "$group" --initiator "cron:$job" >/dev/null
echo "$group"
