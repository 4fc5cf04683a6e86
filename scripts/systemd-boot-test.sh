#!/usr/bin/env bash
# The .deb under a real systemd (docs/reliability.md, "The package under systemd as PID 1").
#
#   sudo bash scripts/systemd-boot-test.sh build/package/bulkwarden_X.Y.Z_amd64.deb
#
# Bootstraps a minimal Debian 12 (debootstrap --variant=minbase, plus systemd), boots its systemd
# as PID 1 in private PID, mount, cgroup, UTS and IPC namespaces over that root (pivot_root, not
# chroot: the kernel refuses to create user namespaces inside a chroot, and the unit's
# PrivateUsers= needs one), installs the .deb with `apt-get install ./bulkwarden_*.deb`, and checks
# the packaged unit end to end against `bulkwarden sim` run as a transient unit inside:
#   start, STATUS=, a stuck job aborted (intent and result in the audit trail), /status,
#   `systemctl reload` (ExecReload), `systemctl stop`, the files' owners and modes,
#   LoadCredential= (the org's token reaches the service as a credential; it needs the new root
#   mount shared, see launch.sh below), and docs/operations.md's `systemd-run --pipe --wait`
#   commands (after installing dbus: --wait needs D-Bus, which a minimal Debian lacks).
# Every check prints "ok: ..." or "FAILED: ..."; the script exits 1 on the first failure, 2 when
# it cannot run here (not root, no debootstrap, no network to the mirror).
#
# The network is the host's (apt fetches the .deb's dependencies), so both ports are chosen free
# at run time. Needs root, debootstrap, util-linux (unshare, nsenter, pivot_root), curl, and a
# kernel with cgroup2 and user namespaces. Environment:
#   BULKWARDEN_BOOT_MIRROR   the Debian mirror (default http://deb.debian.org/debian)
#   BULKWARDEN_BOOT_KEEP=1   keep the work folder on failure (it is printed)
#   BULKWARDEN_BOOT_TIMEOUT  seconds to wait for each event (default 120)
#   BULKWARDEN_BOOT_ROOT=DIR copy this pristine debootstrap root (same command, never booted)
#                            instead of running debootstrap; apt still needs the mirror
set -euo pipefail

deb=${1:-}
mirror=${BULKWARDEN_BOOT_MIRROR:-http://deb.debian.org/debian}
timeout_s=${BULKWARDEN_BOOT_TIMEOUT:-120}
started=$SECONDS

say() { printf '%s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
cannot() { printf 'CANNOT RUN: %s\n' "$*" >&2; exit 2; }
fail() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

if [ -z "$deb" ] || [ ! -f "$deb" ]; then
  echo "usage: $0 path/to/bulkwarden_*.deb" >&2
  exit 64
fi
deb=$(readlink -f "$deb")
[ "$(id -u)" -eq 0 ] || cannot "needs root (namespaces, mounts, debootstrap)"
for tool in debootstrap unshare nsenter pivot_root mount umount curl; do
  command -v "$tool" >/dev/null || cannot "$tool is not installed"
done

# --- Work folder, cgroup, teardown --------------------------------------------------------------
work=$(mktemp -d /var/tmp/bulkwarden-boot-XXXXXX)
root=$work/root
cgmount=$work/cgroup2
cg=
upid=
pid1=

# Runs a command inside the booted system (all its namespaces, its root).
inside() { nsenter -t "$pid1" -a -r -w env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  SYSTEMD_PAGER= SYSTEMD_COLORS=0 LANG=C.UTF-8 "$@"; }

# Waits until the command succeeds, polling; fails with the message after the timeout.
wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + timeout_s))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout_s}s waiting for: $what"
    sleep 0.2
  done
}

teardown() {
  local rc=$?
  set +e
  if [ -n "$upid" ] && kill -0 "$upid" 2>/dev/null; then
    if [ -n "$pid1" ] && kill -0 "$pid1" 2>/dev/null; then
      if [ "$rc" -ne 0 ]; then
        say "--- the inner journal (last 40 lines)"
        inside journalctl -b --no-pager -n 40 2>&1
      fi
      inside systemctl poweroff --no-block >/dev/null 2>&1
      local deadline=$((SECONDS + 60))
      while kill -0 "$upid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
      if kill -0 "$upid" 2>/dev/null; then
        say "teardown: the inner systemd did not power off within 60s; killing its PID 1 ($pid1)"
        kill -KILL "$pid1" 2>/dev/null
      fi
    fi
    # unshare --kill-child: it ends once its child (the inner PID 1) is gone.
    wait "$upid" 2>/dev/null
  fi
  if [ -n "$cg" ] && [ -d "$cg" ]; then
    # Every process of the namespace is gone with its PID 1; remove the cgroups it made.
    [ -f "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  fi
  mountpoint -q "$cgmount" && umount "$cgmount"
  if [ "$rc" -ne 0 ] && [ -n "${BULKWARDEN_BOOT_KEEP:-}" ]; then
    say "kept $work (console: $work/console.log)"
  else
    if [ "$rc" -ne 0 ] && [ -s "$work/console.log" ]; then
      say "--- the inner systemd's console (last 40 lines)"
      tail -n 40 "$work/console.log"
    fi
    # Nothing is mounted under $work any more (the mounts lived in the namespace).
    rm -rf --one-file-system "$work"
  fi
  say "run time: $((SECONDS - started))s"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- The root ------------------------------------------------------------------------------------
step "debootstrap a minimal Debian 12 (bookworm, minbase + systemd) from $mirror"
host=$(printf '%s\n' "$mirror" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
if ! curl -fsS --max-time 20 -o /dev/null "$mirror/dists/bookworm/Release"; then
  cannot "no network: cannot fetch $mirror/dists/bookworm/Release (host $host). This test needs \
the mirror (debootstrap, then apt-get for the .deb's dependencies); set BULKWARDEN_BOOT_MIRROR to \
a reachable one"
fi
if [ -n "${BULKWARDEN_BOOT_ROOT:-}" ]; then
  cp -a "$BULKWARDEN_BOOT_ROOT" "$root"
  ok "copied the pristine root $BULKWARDEN_BOOT_ROOT (no debootstrap)"
else
  debootstrap --variant=minbase --include=systemd bookworm "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap (log above)"; }
  ok "debootstrap: $(du -sh "$root" | cut -f1)"
fi
[ -x "$root/lib/systemd/systemd" ] || fail "no /lib/systemd/systemd in the root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/root/"
debname=$(basename "$deb")

# --- Boot ------------------------------------------------------------------------------------------
step "boot systemd as PID 1 (pivot_root, private PID/mount/cgroup/UTS/IPC namespaces)"
# A cgroup2 hierarchy of our own for the namespace's cgroup root: this machine may mount only v1
# controllers on /sys/fs/cgroup, and systemd wants the unified hierarchy.
mkdir -p "$cgmount"
mount -t cgroup2 none "$cgmount" || cannot "cannot mount a cgroup2 hierarchy"
cg=$cgmount/bulkwarden-boot-$$
mkdir "$cg"

cat >"$work/launch.sh" <<'EOF'
# Runs as PID 1 of the new PID namespace, in a private mount namespace; ends by exec'ing systemd.
set -eu
root=$1
mount --bind "$root" "$root"           # pivot_root wants the new root to be a mount point
mount -t proc proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"   # our cgroup namespace
mount -t tmpfs -o mode=0755,nosuid,size=10% tmpfs "$root/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r name major minor <<<"$n"
  mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
done
mkdir -p "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t mqueue mqueue "$root/dev/mqueue"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
# Shared, as systemd itself makes / when the kernel starts it (it leaves it alone in a container):
# a service's credentials are mounted in its own namespace and must propagate back to PID 1's.
# With a private root, LoadCredential= gives every unit an empty $CREDENTIALS_DIRECTORY.
mount --make-rshared /
exec env -i container=bulkwarden-boot-test TERM=dumb /lib/systemd/systemd --log-target=console \
  --log-color=no
EOF
# The shell moves itself into our cgroup, then unshare makes that cgroup the namespace's root.
bash -c 'echo $$ >"$1/cgroup.procs" && exec unshare --mount --pid --cgroup --uts --ipc --fork \
  --kill-child --propagation private bash "$2" "$3"' _ "$cg" "$work/launch.sh" "$root" \
  </dev/null >"$work/console.log" 2>&1 &
upid=$!
children() {
  pid1=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null) || return 1
  pid1=${pid1%% *}
  [ -n "$pid1" ]
}
wait_for "unshare's child (the inner PID 1)" children
children
# PID 1 is systemd once the launcher has exec'd it.
is_systemd() { [ "$(readlink "/proc/$pid1/exe")" = /usr/lib/systemd/systemd ] ||
  [ "$(readlink "/proc/$pid1/exe")" = /lib/systemd/systemd ]; }
wait_for "the launcher to exec systemd (console: $work/console.log)" is_systemd
version=$(inside /lib/systemd/systemd --version | head -1 | cut -d' ' -f2)
ok "systemd $version is PID 1 of the namespace (host pid $pid1)"
running() {
  local s
  s=$(inside timeout 5 systemctl is-system-running --wait 2>/dev/null) || true
  case "$s" in running | degraded) return 0 ;; *) return 1 ;; esac
}
wait_for "systemctl is-system-running --wait: running or degraded" running
state=$(inside systemctl is-system-running 2>/dev/null || true)
ok "system is $state"
if [ "$state" = degraded ]; then
  say "   failed units (expected in a container without udev/dbus): $(inside systemctl --failed \
--plain --no-legend | awk '{print $1}' | tr '\n' ' ')"
fi

# --- Install ---------------------------------------------------------------------------------------
step "apt-get install ./$debname"
inside sh -c "apt-get update -qq && \
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ./root/$debname" >"$work/apt.log" 2>&1 ||
  { tail -n 30 "$work/apt.log" >&2; fail "apt-get install ./$debname (log above)"; }
inside dpkg-query -W -f='${Status}\n' bulkwarden | grep -qx 'install ok installed' ||
  fail "dpkg does not record bulkwarden as installed"
ok "installed: $(inside dpkg-query -W -f='${Package} ${Version}' bulkwarden)"
inside systemctl cat bulkwarden.service >/dev/null || fail "systemd does not know bulkwarden.service"
ok "systemd loaded bulkwarden.service (postinst's daemon-reload)"
# The unit's programs exist in the installed system (ExecReload=/bin/kill: procps).
for prog in $(inside systemctl show -p ExecStartPre -p ExecStart -p ExecReload bulkwarden |
  sed -n 's/.*path=\([^ ;]*\).*/\1/p' | sort -u); do
  inside test -x "$prog" || fail "the unit runs $prog, which the installed system lacks"
  ok "the unit's $prog is installed"
done

# Owners and modes as shipped (docs/operations.md section 1).
mode_of() { inside stat -c '%a %U:%G' "$1"; }
expect_mode() {
  local got
  got=$(mode_of "$1") || fail "$1 is missing"
  [ "$got" = "$2" ] || fail "$1 is $got, want $2 (${3:-})"
  ok "$1 $got"
}
expect_mode /etc/bulkwarden/bulkwarden.yaml "644 root:root" "docs/operations.md: 0644 root"
expect_mode /usr/sbin/bulkwarden "755 root:root"
expect_mode /lib/systemd/system/bulkwarden.service "644 root:root"

# --- Configure: an org served by `bulkwarden sim` inside ------------------------------------------
step "configure: the simulated org, an enforce policy, the token as a credential"
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    ss -ltnH "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
}
http_port=$(free_port)
token=00DBOOT0000000001!AQbootTestToken
# Three query jobs stuck InProgress for two hours, one fresh one the policy must leave alone.
inside systemd-run --quiet --unit=bulkwarden-sim -p DynamicUser=yes \
  -p StandardOutput=file:/run/bulkwarden-sim.out \
  /usr/sbin/bulkwarden sim --listen 127.0.0.1:0 --empty --token "$token" \
  --jobs query:InProgress:3:age=2h --jobs query:InProgress:1:age=1m ||
  fail "systemd-run bulkwarden sim"
# /run is the namespace's tmpfs: read the file through the namespace.
sim_line() {
  inside cat /run/bulkwarden-sim.out 2>/dev/null |
    sed -n 's/^bulkwarden sim: \(http:[^ ]*\) token .*/\1/p'
}
has_sim_line() { [ -n "$(sim_line)" ]; }
wait_for "bulkwarden sim's first line (a transient unit, DynamicUser)" has_sim_line
sim=$(sim_line)
ok "bulkwarden sim serves $sim (unit bulkwarden-sim.service)"

# The config keeps the packaged file's owner and mode (it is written through, not replaced).
inside sh -c 'cat >/etc/bulkwarden/bulkwarden.yaml' <<EOF
orgs:
  - name: boot-test
    api-version: "62.0"
    instance-url: $sim
    auth:
      flow: access-token
      access-token: { credential: sf-access-token }
policies:
  - /etc/bulkwarden/boot-test-policy.yaml
audit-log: /var/log/bulkwarden/audit.jsonl
state-dir: /var/lib/bulkwarden
http: { listen: 127.0.0.1:$http_port }
EOF
inside sh -c 'umask 022 && cat >/etc/bulkwarden/boot-test-policy.yaml' <<'EOF'
policies:
  - name: boot-test-abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters:
      - state: [InProgress]
      - older-than: { field: createdDate, age: 30m }
    action: abort
EOF
inside sh -c "install -d -m 0700 /etc/credstore && umask 077 && \
  printf '%s' '$token' >/etc/credstore/bulkwarden-sf-access-token"
expect_mode /etc/credstore/bulkwarden-sf-access-token "600 root:root"

# LoadCredential= on its own, first: a bare transient unit reads its credential back.
step "LoadCredential= in a bare transient unit"
# (No `systemd-run --pipe --wait`: --wait needs D-Bus, which a minimal install lacks.)
inside systemd-run --quiet --unit=bulkwarden-cred-probe -p DynamicUser=yes -p RemainAfterExit=yes \
  -p LoadCredential=probe:/etc/credstore/bulkwarden-sf-access-token \
  -p StandardOutput=file:/run/bulkwarden-cred-probe.out \
  sh -c 'cat "$CREDENTIALS_DIRECTORY/probe"' || fail "systemd-run the credential probe"
probe_done() {
  case "$(inside systemctl show -p SubState --value bulkwarden-cred-probe)" in
    exited | failed) return 0 ;; *) return 1 ;;
  esac
}
wait_for "the credential probe unit to finish" probe_done
cred=$(inside cat /run/bulkwarden-cred-probe.out 2>/dev/null) || true
if [ "$cred" != "$token" ]; then
  inside systemctl status --no-pager bulkwarden-cred-probe >&2 || true
  fail "LoadCredential=probe:/etc/credstore/... gave ${#cred} bytes, not the ${#token}-byte token \
(systemd did not hand the credential to the unit): $(printf '%s' "$cred" | head -c 300 | tr -c '[:print:]' '?')"
fi
ok "a DynamicUser transient unit reads its LoadCredential= (${#cred} bytes, as written)"

# --- Start ----------------------------------------------------------------------------------------
step "systemctl start bulkwarden"
if ! inside systemctl start bulkwarden; then
  inside journalctl -u bulkwarden --no-pager -n 30 >&2 || true
  fail "systemctl start bulkwarden"
fi
[ "$(inside systemctl is-active bulkwarden)" = active ] || fail "bulkwarden is not active"
mainpid=$(inside systemctl show -p MainPID --value bulkwarden)
ok "active (Type=notify: READY=1 came), MainPID $mainpid"
status=$(inside systemctl show -p StatusText --value bulkwarden)
[ -n "$status" ] || fail "StatusText (STATUS=) is empty"
ok "STATUS=$status"
uid=$(inside sh -c "awk '/^Uid:/ {print \$2}' /proc/$mainpid/status")
if [ "$uid" -lt 61184 ] || [ "$uid" -gt 65519 ]; then
  fail "the service runs as uid $uid, outside systemd's DynamicUser range 61184-65519"
fi
ok "runs as dynamic uid $uid"
# The sandbox took effect (systemd in a container skips nothing of it silently).
pstatus=$(inside cat "/proc/$mainpid/status")
for want in 'NoNewPrivs:	1' 'Seccomp:	2' 'CapEff:	0000000000000000' 'CapBnd:	0000000000000000'; do
  printf '%s\n' "$pstatus" | grep -qP "^$want\$" || fail "the service's /proc status lacks $want"
done
ok "NoNewPrivs 1, seccomp filter on, no capabilities (effective and bounding)"
uidmap=$(inside cat "/proc/$mainpid/uid_map" | awk '{print $1, $2, $3}' | paste -sd';')
[ "$uidmap" = "0 0 1;$uid $uid 1" ] || fail "PrivateUsers=: uid_map is '$uidmap', want '0 0 1;$uid $uid 1'"
ok "PrivateUsers=: its user namespace maps only root and uid $uid"
for ns in mnt user ipc uts; do
  [ "$(inside readlink "/proc/$mainpid/ns/$ns")" != "$(inside readlink "/proc/1/ns/$ns")" ] ||
    fail "the service shares PID 1's $ns namespace"
done
ok "own mount, user, IPC and UTS namespaces (PrivateMounts/PrivateUsers/PrivateIPC/ProtectHostname)"

# --- It governs ------------------------------------------------------------------------------------
step "the stuck jobs are aborted, with their audit records"
audit=/var/log/private/bulkwarden/audit.jsonl
count() { inside grep -c "$1" "$audit" 2>/dev/null || true; }
three_results() {
  [ "$(inside sh -c "grep '\"type\":\"result\"' $audit | grep -c '\"outcome\":\"applied\"'")" -ge 3 ]
}
wait_for "3 abort results with outcome applied in $audit" three_results
intents=$(inside sh -c "grep '\"type\":\"intent\"' $audit | grep -c '\"action\":\"abort\"'" || true)
[ "$intents" = 3 ] || fail "$intents abort intents in the trail, want 3 (the fresh job must be left alone)"
ok "3 abort intents and 3 applied results in $audit"
statusjson=$(curl -fsS --max-time 10 "http://127.0.0.1:$http_port/status") ||
  fail "GET http://127.0.0.1:$http_port/status"
printf '%s' "$statusjson" | grep -q '"boot-test-abort-stuck"' || fail "/status does not name the policy"
ok "/status on 127.0.0.1:$http_port names the policy"
inside /usr/sbin/bulkwarden audit verify "$audit" >"$work/verify.out" 2>&1 ||
  { cat "$work/verify.out" >&2; fail "bulkwarden audit verify $audit"; }
ok "audit verify: $(tail -n 1 "$work/verify.out")"

# --- Reload ----------------------------------------------------------------------------------------
step "systemctl reload bulkwarden (ExecReload=)"
reloads_before=$(count '"run":"reload"')
if ! inside systemctl reload bulkwarden; then
  inside journalctl -u bulkwarden --no-pager -n 20 >&2 || true
  fail "systemctl reload bulkwarden (ExecReload=$(inside systemctl show -p ExecReload --value bulkwarden))"
fi
reloaded() { [ "$(count '"run":"reload"')" -gt "${reloads_before:-0}" ]; }
wait_for "a config record with \"run\":\"reload\" in the trail" reloaded
[ "$(inside systemctl is-active bulkwarden)" = active ] || fail "not active after the reload"
[ "$(inside systemctl show -p MainPID --value bulkwarden)" = "$mainpid" ] ||
  fail "MainPID changed across the reload (it restarted instead)"
ok "reload: exit 0, the trail has a config record with \"run\":\"reload\", same MainPID $mainpid"
ok "STATUS=$(inside systemctl show -p StatusText --value bulkwarden)"

# --- Stop ------------------------------------------------------------------------------------------
step "systemctl stop bulkwarden"
inside systemctl stop bulkwarden || fail "systemctl stop bulkwarden"
show=$(inside systemctl show -p ActiveState -p Result -p ExecMainStatus bulkwarden |
  tr '\n' ' ')
case "$show" in
  *ActiveState=inactive*Result=success* | *Result=success*ActiveState=inactive*) ;;
  *) fail "after stop: $show" ;;
esac
case "$show" in *ExecMainStatus=0*) ;; *) fail "the daemon's exit status after stop: $show" ;; esac
ok "stopped cleanly: $show"
inside /usr/sbin/bulkwarden audit verify "$audit" >"$work/verify.out" 2>&1 ||
  { cat "$work/verify.out" >&2; fail "bulkwarden audit verify after stop"; }
ok "audit verify after stop: $(tail -n 1 "$work/verify.out")"

# --- Owners and modes (docs/operations.md, docs/security.md) -------------------------------------
step "files: owners and modes"
expect_mode /etc/bulkwarden/bulkwarden.yaml "644 root:root" "written through, still the package's"
[ "$(inside readlink /var/lib/bulkwarden)" = private/bulkwarden ] ||
  fail "/var/lib/bulkwarden is not a link to private/bulkwarden (StateDirectory= with DynamicUser=)"
ok "/var/lib/bulkwarden -> private/bulkwarden"
[ "$(inside readlink /var/log/bulkwarden)" = private/bulkwarden ] ||
  fail "/var/log/bulkwarden is not a link to private/bulkwarden (LogsDirectory= with DynamicUser=)"
ok "/var/log/bulkwarden -> private/bulkwarden"
expect_mode /var/lib/private "700 root:root" "only root reaches the dynamic user's files"
expect_mode /var/log/private "700 root:root" "the audit trail is readable by root only"
owner_uid() { inside stat -c '%u' "$1"; }
# StateDirectoryMode=0700 and LogsDirectoryMode=0750 in the unit: the state-dir 0700 as
# docs/operations.md says; the audit folder readable by the group an auditor may be given.
for want in "/var/lib/private/bulkwarden 700" "/var/log/private/bulkwarden 750"; do
  d=${want% *}
  [ "$(owner_uid "$d")" = "$uid" ] || fail "$d belongs to uid $(owner_uid "$d"), not the service's $uid"
  m=$(inside stat -c '%a' "$d")
  [ "$m" = "${want#* }" ] || fail "$d is $m, want ${want#* } (the unit's *DirectoryMode=)"
  ok "$d $m uid $uid"
done
[ "$(owner_uid "$audit")" = "$uid" ] || fail "$audit is not the service user's"
m=$(inside stat -c '%a' "$audit")
[ "$m" = 640 ] || fail "$audit is $m, want 640 (docs/security.md)"
ok "$audit 640 uid $uid"
for f in $(inside find /var/lib/private/bulkwarden -type f); do
  m=$(inside stat -c '%a' "$f")
  [ "$(owner_uid "$f")" = "$uid" ] || fail "$f is not the service user's"
  case "$m" in 600 | 640) ;; *) fail "$f is $m, want 600 (or 640 for an audit file)" ;; esac
  ok "$f $m uid $uid"
done

# --- The by-hand commands of docs/operations.md ---------------------------------------------------
step "docs/operations.md: validate, plan and run --once through systemd-run --pipe --wait"
handcred=(-p LoadCredential=sf-access-token:/etc/credstore/bulkwarden-sf-access-token)
cfg=/etc/bulkwarden/bulkwarden.yaml
# --wait follows the unit over D-Bus, which a minimal Debian lacks: say what happens without it.
if inside systemd-run --pipe --wait --quiet "${handcred[@]}" /usr/sbin/bulkwarden validate \
  --config "$cfg" >"$work/nodbus.out" 2>&1; then
  ok "without D-Bus, systemd-run --pipe --wait works"
else
  say "   without D-Bus: systemd-run --pipe --wait says: $(head -n 1 "$work/nodbus.out")"
  inside sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dbus" >"$work/apt-dbus.log" 2>&1 ||
    { tail -n 20 "$work/apt-dbus.log" >&2; fail "apt-get install dbus"; }
  inside systemctl start dbus.service || fail "systemctl start dbus.service"
  ok "installed and started dbus"
fi
by_hand() {
  local what=$1
  shift
  if ! inside systemd-run --pipe --wait --quiet "$@" >"$work/byhand.out" 2>&1; then
    cat "$work/byhand.out" >&2
    fail "by hand: $what"
  fi
  ok "by hand: $what: $(grep -v '^$' "$work/byhand.out" | tail -n 1 | cut -c1-120)"
}
by_hand "validate (checks the credential)" "${handcred[@]}" /usr/sbin/bulkwarden validate --config "$cfg"
grep -qi 'note:.*credential' "$work/byhand.out" &&
  fail "validate under systemd-run did not see the credential: $(cat "$work/byhand.out")"
by_hand "plan (beside a stopped service)" "${handcred[@]}" /usr/sbin/bulkwarden plan --config "$cfg"
by_hand "run --once as a DynamicUser unit with both folders" "${handcred[@]}" -p DynamicUser=yes \
  -p StateDirectory=bulkwarden -p LogsDirectory=bulkwarden \
  /usr/sbin/bulkwarden run --once --config "$cfg"
inside systemctl start bulkwarden || fail "systemctl start bulkwarden after run --once by hand"
[ "$(inside systemctl is-active bulkwarden)" = active ] || fail "not active after run --once by hand"
inside systemctl stop bulkwarden || fail "systemctl stop bulkwarden (second)"
ok "the service starts again after the by-hand run --once (systemd handed the folders back)"

step "all checks passed"
