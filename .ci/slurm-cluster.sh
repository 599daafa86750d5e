#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests/test_slurm.py (CI) and for trying
# profiles/slurm by hand. Needs root and Debian's packages (installed here with apt-get if absent).
#
#   .ci/slurm-cluster.sh start DIR   # install if needed, write DIR/slurm.conf, start the daemons
#   .ci/slurm-cluster.sh stop DIR    # stop them by their PID files
#
# The PID files live in one known place, $MCNN_SLURM_RUN (default /run/mcnn-ci-slurm), whatever
# DIR is: `start` first stops the daemons of an earlier run that crashed before its `stop`.
#
# The node advertises one GPU (a GRES backed by /dev/null) so that the rules' `gpu` requests
# are scheduled as on a GPU cluster; jobs see CUDA_VISIBLE_DEVICES=0 and no CUDA device, so
# they run on the CPU. No accounting database: profiles/slurm polls job states with squeue.
set -euo pipefail
action=${1:?usage: slurm-cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm-cluster.sh start|stop DIR}")
run=${MCNN_SLURM_RUN:-/run/mcnn-ci-slurm}
host=$(hostname -s)

# Stop each daemon named by a PID file in $run (only if that PID is still that daemon: a PID
# of a long-gone run may belong to another process now), waiting until it has exited.
stop_daemons() {
    for daemon in slurmd slurmctld munged; do
        local pid_file=$run/$daemon.pid pid
        [[ -f $pid_file ]] || continue
        pid=$(cat "$pid_file")
        if [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == "$daemon" ]]; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                [[ -e /proc/$pid ]] || break
                sleep 0.2
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pid_file"
    done
}

stop() {
    for name in slurm.conf gres.conf; do
        if [[ $(readlink "/etc/slurm/$name" 2>/dev/null) == "$dir/$name" ]]; then
            rm -f "/etc/slurm/$name"
        fi
    done
    stop_daemons
}

if [[ $action == stop ]]; then
    stop
    exit 0
fi
[[ $action == start ]] || { echo "unknown action $action (start|stop)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root (slurmd and munged run as root/munge)" >&2; exit 3; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || { echo "no slurm-wlm/munge and no apt-get" >&2; exit 4; }
    echo "installing slurm-wlm and munge with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$dir.apt.log" 2>&1 \
        || { apt-get update -q >>"$dir.apt.log" 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge \
                >>"$dir.apt.log" 2>&1; } \
        || { echo "apt-get install slurm-wlm munge failed (log: $dir.apt.log)" >&2; exit 4; }
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$run" /run/munge
chown munge:munge /run/munge
[[ -f /etc/munge/munge.key ]] || { mungekey --create 2>/dev/null || /usr/sbin/create-munge-key; }
# GNU nproc honours OMP_NUM_THREADS; the node declares the machine's processors regardless.
cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
# Below what is free now, so that the node is not drained for having less than it declares.
memory=$(( $(free -m | awk '/^Mem:/ {print $7}') * 8 / 10 ))

cat >"$dir/slurm.conf" <<CONF
ClusterName=mcnnci
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups in a container: track processes through /proc, no task containment.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$memory Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES State=UP MaxTime=INFINITE
PartitionName=gpu Nodes=ALL State=UP MaxTime=INFINITE
CONF
echo "NodeName=$host Name=gpu File=/dev/null" >"$dir/gres.conf"

export SLURM_CONF=$dir/slurm.conf
stop  # and the daemons of an earlier run that crashed before its own `stop`
# Job steps (srun inside a job, as the SLURM executor's jobs run) read the default path, not
# $SLURM_CONF: link it there, unless a real configuration lives there.
mkdir -p /etc/slurm
for name in slurm.conf gres.conf; do
    if [[ -e /etc/slurm/$name && ! -L /etc/slurm/$name ]]; then
        echo "/etc/slurm/$name exists and is not ours: not touching a real cluster" >&2
        exit 6
    fi
    ln -sfn "$dir/$name" "/etc/slurm/$name"
done
su -s /bin/sh munge -c "munged --pid-file=/run/munge/munged.pid" 2>/dev/null \
    || munged --force --pid-file=/run/munge/munged.pid
cp /run/munge/munged.pid "$run/munged.pid"
slurmctld
slurmd
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
        echo "slurm: node $host idle ($cpus CPUs, $memory MB, 1 GPU); SLURM_CONF=$dir/slurm.conf"
        exit 0
    fi
    sleep 0.5
done
echo "slurm: the node did not become idle; see $dir/log" >&2
sinfo -N -l >&2 || true
exit 5
