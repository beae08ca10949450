#!/bin/sh
# tests/e2e/lib/slurm_array.sh T: chapters/extract.sbatch as a real Slurm job
# array (3 tasks) on this one node, into a fresh memo store, then one
# ordinary run that must find every chunk (no miss). Called by
# features_shard.sh with its scratch folder T (the fixture in T/data).
# Needs root and Debian's slurm-wlm + munge (apt-get install slurm-wlm
# munge): munged, slurmctld and slurmd are started here on private sockets,
# ports and folders under T/slurm (no systemd), and stopped on exit. Where
# any of that is missing or does not come up, it prints "skip: slurm (WHY)"
# and exits 0. Every wait has a timeout.
set -u
T=$1
S=$T/slurm
skip() { echo "skip: slurm ($*)"; exit 0; }
for c in munged slurmctld slurmd sbatch sinfo squeue sacct scontrol; do
  command -v $c > /dev/null 2>&1 || skip "no $c: apt-get install slurm-wlm munge"
done
[ "$(id -u)" = 0 ] || skip "slurmd must run as root to start jobs, and this is uid $(id -u)"
mkdir -p "$S/state" "$S/spool" "$S/munge" "$S/out" || skip "cannot make $S"
chmod 700 "$S/munge"
stop() {
  for p in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munge/munged.pid"; do
    [ -s "$p" ] && kill "$(cat "$p")" 2> /dev/null
  done
  sleep 1
}
trap stop EXIT
dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 2> /dev/null && chmod 400 "$S/munge/munge.key"
timeout 20 munged --force --socket="$S/munge/munge.socket" --key-file="$S/munge/munge.key" \
  --pid-file="$S/munge/munged.pid" --log-file="$S/munge/munged.log" --seed-file="$S/munge/munged.seed" \
  > "$S/munged.out" 2>&1 || skip "munged did not start: $(tail -n 1 "$S/munged.out")"
host=$(hostname -s)
port=$(( 20000 + $$ % 20000 ))
export SLURM_CONF=$S/slurm.conf
cat > "$SLURM_CONF" <<CONF
ClusterName=cbtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.socket
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=30 State=UP OverSubscribe=FORCE:4
CONF
echo "ConstrainCores=no" > "$S/cgroup.conf"
timeout 20 slurmctld -f "$SLURM_CONF" > "$S/ctld.out" 2>&1 || skip "slurmctld did not start: $(tail -n 1 "$S/slurmctld.log" 2>/dev/null)"
timeout 20 slurmd -f "$SLURM_CONF" > "$S/d.out" 2>&1 || skip "slurmd did not start: $(tail -n 1 "$S/slurmd.log" 2>/dev/null)"
up=0
for _ in $(seq 1 30); do
  sinfo -h -o %t 2> /dev/null | grep -q idle && { up=1; break; }
  sleep 1
done
[ $up = 1 ] || skip "the node did not come up in 30 s: $(sinfo -h -o '%t %E' 2>&1 | head -n 1); $(tail -n 1 "$S/slurmd.log" 2>/dev/null)"

export CLIPBOOK_CACHE=$T/slurm-cache CLIPBOOK_EXTRACT_OUT=$S/out DATA_DIR=$T/data
export CLIPBOOK="${CLIPBOOK:-build/bin/clipbook}"
case $CLIPBOOK in /*) ;; *) CLIPBOOK=$PWD/$CLIPBOOK ;; esac
job=$(timeout 30 sbatch --parsable --array=0-2 --cpus-per-task=1 --time=10 --chdir="$PWD" --output="$S/out/task-%a.out" \
      chapters/extract.sbatch paper-fixture 2> "$S/sbatch.err") || { echo "FAIL: sbatch: $(cat "$S/sbatch.err")"; exit 1; }
done_=0
for _ in $(seq 1 "${SLURM_WAIT_S:-240}"); do
  [ -z "$(squeue -h -j "$job" 2> /dev/null)" ] && { done_=1; break; }
  sleep 1
done
[ $done_ = 1 ] || { squeue -h -j "$job" -o "%i %t %r" 2>&1 | head -n 3; scancel "$job" 2> /dev/null; echo "FAIL: job array $job did not finish in ${SLURM_WAIT_S:-240} s"; exit 1; }
n=$(ls "$S"/out/shard-*-of-3.json 2> /dev/null | wc -l)
[ "$n" = 3 ] || { echo "FAIL: $n of 3 array tasks wrote their fragment"; tail -n 5 "$S"/out/task-*.out; exit 1; }
grep -l '"type":[[:space:]]*"error"' "$S"/out/shard-*.json > /dev/null 2>&1 && { echo "FAIL: an array task failed"; tail -n 5 "$S"/out/task-*.out; exit 1; }
tasks=$(grep "^miss features\." "$CLIPBOOK_CACHE/memo.log" | awk '{print $2}' | sort | uniq -d | wc -l)
[ "$tasks" = 0 ] || { echo "FAIL: $tasks chunks computed by two tasks"; exit 1; }
n0=$(wc -l < "$CLIPBOOK_CACHE/memo.log")
"$CLIPBOOK" run chapters/extract.lua --profiles chapters/profiles.lua --profile paper-fixture --quiet --out "$S/merge.json" > "$S/merge.out" 2>&1 \
  || { echo "FAIL: the run after the job array"; tail -n 5 "$S/merge.out"; exit 1; }
m=$(tail -n +"$((n0 + 1))" "$CLIPBOOK_CACHE/memo.log" | grep -c "^miss " || true)
[ "$m" = 0 ] || { echo "FAIL: $m misses after the job array"; exit 1; }
echo "4. Slurm job array $job (3 tasks, slurmctld + slurmd + munge on this node): every chunk once, then 0 misses"
