#!/usr/bin/env bash
# Stops the daemons scripts/slurm/start-local.sh started (by the pids it recorded in `started`),
# slurmd first, then slurmctld, then munged. A cluster it reused is left running.
# usage: scripts/slurm/stop-local.sh [state folder]   (default: $DISTILL_SLURM_DIR or /tmp/distill-slurm)
set -euo pipefail
dir="${1:-${DISTILL_SLURM_DIR:-/tmp/distill-slurm}}"
started="$dir/started"
[ -f "$started" ] || { echo "stop-local: $started not found: nothing was started there"; exit 0; }
# Jobs still on this scratch cluster are cancelled first: their processes would outlive slurmd.
conf="$dir/slurm.conf"
if [ -f "$conf" ] && command -v scancel >/dev/null && SLURM_CONF="$conf" scontrol ping 2>/dev/null | grep -q 'is UP'; then
  jobs="$(SLURM_CONF="$conf" squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')"
  if [ -n "${jobs// /}" ]; then
    # shellcheck disable=SC2086
    SLURM_CONF="$conf" scancel $jobs || true
    for _ in $(seq 100); do [ -z "$(SLURM_CONF="$conf" squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
    echo "stop-local: cancelled jobs $jobs"
  fi
fi
for name in slurmd slurmctld munged; do
  pid="$(awk -v n="$name" '$1 == n { print $2 }' "$started")"
  [ -n "$pid" ] || continue
  # Only the daemon recorded: the pid must still be that program.
  if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ]; then
    kill -TERM "$pid"
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid"
    echo "stop-local: stopped $name ($pid)"
  fi
done
rm -f "$started"
