#!/bin/sh
# The guest side of `cargo xtask vm` and `cargo xtask test --kernel` (xtask/src/vm.rs): runs
# as root inside a virtme-ng guest (this machine's root filesystem, a Debian kernel), makes
# sure of what the project's code and tests expect there, runs the command, then writes its
# exit code into OUT (a folder shared read-write with the host), where xtask reads it.
#
# Usage: vm_guest.sh OUT CMD [ARG...]
set -u
out=$1
shift

note() { echo "vm_guest: $*" >&2; }

# Whether a filesystem of type $2 is mounted at $1.
mounted() {
    awk -v point="$1" -v type="$2" '$2 == point && $3 == type { found = 1 } END { exit !found }' \
        /proc/mounts
}

mounted /sys/kernel/tracing tracefs ||
    mount -t tracefs nodev /sys/kernel/tracing || note "cannot mount tracefs"
mounted /sys/fs/bpf bpf || mount -t bpf bpf /sys/fs/bpf || note "cannot mount bpffs"
# The project finds the cgroup2 mount from /proc/mounts, wherever it is.
if ! awk '$3 == "cgroup2" { found = 1 } END { exit !found }' /proc/mounts; then
    mkdir -p /sys/fs/cgroup &&
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || note "cannot mount cgroup2"
fi
# Modules the tests use (veth pairs, SCTP sockets); 9p is already loaded by virtme-ng.
for module in veth sctp; do
    modprobe "$module" || note "modprobe $module failed"
done

"$@"
code=$?
echo "$code" >"$out/status"
sync
exit "$code"
