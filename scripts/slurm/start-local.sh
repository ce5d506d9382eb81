#!/usr/bin/env bash
# Starts a real one-node Slurm cluster on localhost (munged + slurmctld + slurmd), for the Slurm
# test and for trying `distill sweep submit --slurm` without a cluster. Needs root and Debian's
# slurm-wlm and munge packages. Everything lives in one state folder; nothing under /etc changes.
# No cgroups are needed (proctrack/linuxproc, task/none), so it runs in a container too.
#
# usage: scripts/slurm/start-local.sh [state folder]   (default: $DISTILL_SLURM_DIR or /tmp/distill-slurm)
# The last line printed is `SLURM_CONF=<state folder>/slurm.conf`: export it so that sbatch,
# squeue and scontrol talk to this cluster. If the cluster of that folder is already up, it is
# reused (and `started` is not rewritten). scripts/slurm/stop-local.sh stops what this started.
# Environment: DISTILL_SLURM_PORT (slurmctld's port, default 6817; slurmd takes the next one),
# DISTILL_SLURM_CPUS (the node's CPUs, default nproc).
set -euo pipefail
dir="${1:-${DISTILL_SLURM_DIR:-/tmp/distill-slurm}}"
ctld_port="${DISTILL_SLURM_PORT:-6817}"
cpus="${DISTILL_SLURM_CPUS:-$(nproc)}"

for tool in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$tool" >/dev/null || { echo "start-local: $tool is not installed (apt-get install slurm-wlm munge)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "start-local: needs root (slurmd runs jobs as their owner)" >&2; exit 2; }

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

node_ready() { sinfo -h -n localhost -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'; }

if [ -f "$conf" ] && scontrol ping 2>/dev/null | grep -q 'is UP' && node_ready; then
  echo "start-local: the cluster in $dir is already up"
  echo "SLURM_CONF=$conf"
  exit 0
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/log"
chmod 700 "$dir"
: > "$dir/started"

# munged refuses a key or socket folder others can write to; the package's key is fine.
if ! munge -n --socket="$dir/munge.socket" 2>/dev/null | unmunge --socket="$dir/munge.socket" >/dev/null 2>&1; then
  munged --force --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munged.seed" --key-file=/etc/munge/munge.key
  echo "munged $(cat "$dir/munged.pid")" >> "$dir/started"
fi

cat > "$conf" <<CONF
# A one-node cluster on localhost, written by scripts/slurm/start-local.sh.
ClusterName=distill-local
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
# A cancelled job's processes get SIGKILL 5 s after SIGTERM (the trainer checkpoints on SIGTERM).
KillWait=5
NodeName=localhost CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

# -c: a fresh controller state (this folder's cluster is a scratch one).
slurmctld -c -f "$conf"
for _ in $(seq 50); do [ -s "$dir/slurmctld.pid" ] && break; sleep 0.2; done
echo "slurmctld $(cat "$dir/slurmctld.pid")" >> "$dir/started"
slurmd -f "$conf" -N localhost
for _ in $(seq 50); do [ -s "$dir/slurmd.pid" ] && break; sleep 0.2; done
echo "slurmd $(cat "$dir/slurmd.pid")" >> "$dir/started"

for _ in $(seq 150); do
  if node_ready; then
    echo "start-local: one-node cluster up in $dir ($cpus CPUs, partition debug)"
    echo "SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.2
done
echo "start-local: the node did not become idle within 30 s; see $dir/log/" >&2
sinfo >&2 || true
exit 1
