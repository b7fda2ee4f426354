#!/usr/bin/env bash
# The Debian packages, end to end, in a throw-away Debian root: builds `stepgate` and
# `libpam-stepgate` with cargo-deb (packaging/build-debs.sh), checks them with lintian, and in
# a chroot made by debootstrap (Debian bookworm, from the Debian archive) installs them with
# apt (their dependencies from the archive), starts the service the way its systemd unit
# would, signs in through it over HTTP, authenticates with pamtester through the installed
# module, purges both and checks that nothing is left behind. The test machine is untouched
# but for the cached root under /var/cache/stepgate-test/ (scripts/test.sh runs this).
#
#   sudo tests/packages/run.sh              # builds (release) first; a no-op after the bench
#   sudo tests/packages/run.sh --no-build   # packages the release binaries already built
#
# The first run makes the root with debootstrap (about a minute) and keeps a tarball of it;
# later runs unpack that (seconds). It is made again after 30 days, or when removed.
# STEPGATE_TEST_DEBIAN_MIRROR overrides the archive (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/../.."
T0=$(date +%s)

SUITE=bookworm
MIRROR=${STEPGATE_TEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
INCLUDE=pamtester,oathtool # the test's own tools; the packages' dependencies come from apt
CACHE=/var/cache/stepgate-test
TARBALL=$CACHE/root-$SUITE-minbase-$(printf '%s %s' "$INCLUDE" "$MIRROR" | sha256sum | cut -c1-12).tar.zst
SERVICE=stepgate-pkgtest # the PAM service file the test writes in the chroot

log() { printf '==> packages: %s\n' "$*" >&2; }
die() { printf 'packages: FAILED: %s\n' "$*" >&2; exit 1; }
check() { # DESCRIPTION COMMAND...: the command must succeed
  local what=$1
  shift
  "$@" || die "$what"
}

# --- what it needs: fail, never skip, on a Debian machine as root ----------------------------
[[ $(id -u) -eq 0 ]] || die "run as root: it makes a chroot with debootstrap and mounts /proc in it"
[[ -r /etc/debian_version ]] && command -v dpkg >/dev/null || die "needs Debian (dpkg, debootstrap)"
missing=()
for t in debootstrap:debootstrap lintian:lintian dpkg-shlibdeps:dpkg-dev zstd:zstd curl:curl python3:python3; do
  command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
((${#missing[@]} == 0)) || die "missing tools: apt-get install ${missing[*]}"

# --- build and lint -----------------------------------------------------------------------
log "building the packages (cargo deb)"
mapfile -t DEBS < <(packaging/build-debs.sh "$@")
STEPGATE_DEB=$(printf '%s\n' "${DEBS[@]}" | grep '/stepgate_[^/]*\.deb$' || true)
PAM_DEB=$(printf '%s\n' "${DEBS[@]}" | grep '/libpam-stepgate_[^/]*\.deb$' || true)
[[ -f $STEPGATE_DEB && -f $PAM_DEB ]] || die "cargo deb did not report both packages (got: ${DEBS[*]})"
T_BUILD=$(date +%s)

log "lintian $(lintian --version | awk '{print $2}')"
# Informational and overridden (O:) tags are shown too; an error or warning fails the test
# unless the package's overrides file (packaging/*/lintian-overrides) explains it. (Checked
# here rather than by --fail-on, which with --show-overrides also fails on overridden tags.)
lint=$(lintian --display-info --show-overrides --fail-on none "$STEPGATE_DEB" "$PAM_DEB" 2>&1) ||
  die "lintian failed: $lint"
printf '%s\n' "$lint" | grep -v 'running with root privileges' >&2 || true
! grep -q '^[EW]: ' <<<"$lint" || die "lintian found errors or warnings (above)"
log "lintian: no errors or warnings; the tags above are explained in packaging/*/lintian-overrides"
T_LINT=$(date +%s)

# --- the throw-away root --------------------------------------------------------------------
CHROOT=$(mktemp -d /var/tmp/stepgate-pkgtest.XXXXXX)
SERVER_PID=
cleanup() {
  set +e
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  # Unmount everything under the root (deepest first) before removing it.
  findmnt -rn -o TARGET | grep -F "$CHROOT/" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  if findmnt -rn -o TARGET | grep -qF "$CHROOT/"; then
    echo "packages: $CHROOT still has mounts; not removed" >&2
  else
    rm -rf --one-file-system "$CHROOT"
  fi
}
trap cleanup EXIT
in_root() { chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive "$@"; }

if [[ -f $TARBALL && -z $(find "$TARBALL" -mtime +30) ]]; then
  log "unpacking the cached $SUITE root ($TARBALL)"
  tar --zstd -xpf "$TARBALL" -C "$CHROOT"
else
  log "debootstrap $SUITE (minbase + $INCLUDE) from $MIRROR; cached for next time in $CACHE"
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$CHROOT" "$MIRROR" >"$CHROOT.debootstrap.log" 2>&1 ||
    { tail -n 20 "$CHROOT.debootstrap.log" >&2; die "debootstrap failed (log: $CHROOT.debootstrap.log)"; }
  rm -f "$CHROOT.debootstrap.log"
  in_root apt-get clean
  mkdir -p "$CACHE"
  rm -f "$CACHE"/root-"$SUITE"-minbase-*.tar.zst
  tar --zstd -cpf "$TARBALL.tmp" -C "$CHROOT" --one-file-system . && mv "$TARBALL.tmp" "$TARBALL"
fi
chmod 0755 "$CHROOT" # its / : mktemp's (and so the tarball's) 0700 would shut out all but root
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
# No daemon may start inside the chroot (invoke-rc.d asks this).
printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"
chmod 755 "$CHROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$CHROOT/proc"
mkdir -p "$CHROOT/tmp/debs"
cp "$STEPGATE_DEB" "$PAM_DEB" "$CHROOT/tmp/debs/"
T_ROOT=$(date +%s)

# What exists before, to compare with what is left after the purge.
snapshot() {
  in_root find / -xdev \( -path /proc -o -path /tmp -o -path /var/tmp -o -path /var/cache \
    -o -path /var/log -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /run \) -prune -o -print |
    sort
}
snapshot >"$CHROOT/tmp/before"

# --- install --------------------------------------------------------------------------------
log "apt-get install ./stepgate ./libpam-stepgate in the chroot"
in_root apt-get update -qq >&2 || die "apt-get update in the chroot"
in_root apt-get install -y -q --no-install-recommends \
  "/tmp/debs/$(basename "$STEPGATE_DEB")" "/tmp/debs/$(basename "$PAM_DEB")" >"$CHROOT/tmp/apt.log" 2>&1 ||
  { cat "$CHROOT/tmp/apt.log" >&2; die "installing the packages"; }

# Names as the chroot's own /etc/passwd and /etc/group give them.
owner_mode() { in_root stat -c '%U:%G %a' "$1" 2>/dev/null || echo "missing"; }
expect_owner_mode() { # PATH "USER:GROUP MODE"
  local got
  got=$(owner_mode "$1")
  [[ $got == "$2" ]] || die "$1 is $got, expected $2"
}
check "a stepgate system user" in_root sh -c 'getent passwd stepgate | grep -q ":/var/lib/stepgate:/usr/sbin/nologin$"'
STEPGATE_UID=$(in_root id -u stepgate)
((STEPGATE_UID < 1000)) || die "the stepgate user is not a system user (uid $STEPGATE_UID)"
check "/usr/bin/stepgate runs" in_root stepgate --version
expect_owner_mode /etc/stepgate/stepgate.toml "root:stepgate 640"
expect_owner_mode /var/lib/stepgate "stepgate:stepgate 750"
# libpam's own modules show the folder it loads from: /usr/lib/<DEB_HOST_MULTIARCH>/security.
PAM_DIR=$(dirname "$(cd "$CHROOT" && ls usr/lib/*/security/pam_unix.so)")
expect_owner_mode "/$PAM_DIR/pam_stepgate.so" "root:root 644"
check "the pam-auth-update profile is off by default" grep -qx 'Default: no' "$CHROOT/usr/share/pam-configs/stepgate"
check "no login uses the module until enabled" sh -c "! grep -rl pam_stepgate '$CHROOT/etc/pam.d/'"
[[ ! -e $CHROOT/etc/stepgate/secrets.key ]] || die "the secrets key exists before the first start"

# --- the unit, started as systemd would ----------------------------------------------------
UNIT=$CHROOT/usr/lib/systemd/system/stepgate.service
[[ -f $UNIT ]] || die "no stepgate.service installed"
if command -v systemd-analyze >/dev/null; then
  log "systemd-analyze verify stepgate.service"
  # --root: the unit and the commands it runs are looked up in the chroot. The chroot has no
  # systemd, so the targets a service depends on by default are missing there: that one
  # complaint is expected; any other (an unknown key, a bad value, a missing command) fails.
  out=$(systemd-analyze verify --root="$CHROOT" stepgate.service 2>&1 || true)
  bad=$(grep -v -E '^stepgate\.service: Failed to create stepgate\.service/start: Unit [a-z.-]+\.target not found\.$' <<<"$out" || true)
  [[ -z $bad ]] || die "systemd-analyze verify: $bad"
fi
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
for want in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes PrivateDevices=yes \
  User=stepgate StateDirectory=stepgate; do
  grep -qx "$want" "$UNIT" || die "stepgate.service lacks $want"
done
RUN_USER=$(unit_value User)
RUN_GROUP=$(unit_value Group)
RUN_UMASK=$(unit_value UMask)
PRE=$(unit_value ExecStartPre)
START=$(unit_value ExecStart)
[[ $PRE == +* ]] || die "ExecStartPre is expected to run as root (+): $PRE"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
log "starting the service: ExecStartPre as root, then ExecStart as $RUN_USER on $BASE"
# StateDirectory=, StateDirectoryMode=
in_root install -d -o "$RUN_USER" -g "$RUN_GROUP" -m "$(unit_value StateDirectoryMode)" "/var/lib/$(unit_value StateDirectory)"
in_root sh -c "${PRE#+}" >&2 || die "ExecStartPre failed: $PRE"
expect_owner_mode /etc/stepgate/secrets.key "root:stepgate 640"
# The listen address as an administrator's drop-in (Environment=) would set it, so the
# conffile stays as shipped. setpriv: User=, Group=, NoNewPrivileges=, CapabilityBoundingSet=.
/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  STEPGATE_SERVER__LISTEN="127.0.0.1:$PORT" STEPGATE_SERVER__ISSUER="$BASE" \
  /usr/sbin/chroot "$CHROOT" setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --init-groups \
  --no-new-privs --inh-caps=-all --bounding-set=-all \
  /bin/sh -c "umask ${RUN_UMASK:-0022} && exec $START" >"$CHROOT/tmp/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$CHROOT/tmp/server.log" >&2; die "the service exited"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$BASE/readyz" || { cat "$CHROOT/tmp/server.log" >&2; die "the service is not ready after 30 s"; }
read -r _ ruid euid _ < <(grep '^Uid:' "/proc/$SERVER_PID/status")
[[ $ruid == "$STEPGATE_UID" && $euid == "$STEPGATE_UID" ]] || die "the server runs as uid $euid, not stepgate"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$SERVER_PID/status" || die "the server may gain privileges"
expect_owner_mode /var/lib/stepgate/stepgate.db "stepgate:stepgate 640"

# --- users through the admin CLI (as root, like an administrator) --------------------------
PASSWORD="pkg-test-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
totp_user() { # NAME -> prints the TOTP secret
  in_root stepgate --config /etc/stepgate/stepgate.toml user add "$1" --email "$1@example.com" \
    --password-stdin <<<"$PASSWORD" >/dev/null || die "stepgate user add $1"
  in_root stepgate --config /etc/stepgate/stepgate.toml user enroll-totp "$1" --no-qr |
    sed -nE 's/.*[?&]secret=([A-Z2-7]+).*/\1/p'
}
ALICE=$(totp_user alice)
BOB=$(totp_user bob)
[[ -n $ALICE && -n $BOB ]] || die "enroll-totp printed no otpauth:// URI"
code() { in_root oathtool --totp -b "$1"; }

# --- a web sign-in: password, then the TOTP code ---------------------------------------------
log "signing in as alice at $BASE/login"
python3 - "$BASE" alice "$PASSWORD" "$(code "$ALICE")" <<'PY' || die "the web sign-in failed"
import http.cookiejar, sys, urllib.parse, urllib.request
from html.parser import HTMLParser

base, user, password, code = sys.argv[1:]

class Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self.current = [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.current = {"action": a.get("action", ""), "fields": {}}
            self.forms.append(self.current)
        elif tag == "input" and self.current is not None and a.get("name"):
            if a.get("type") == "hidden":
                self.current["fields"][a["name"]] = a.get("value", "")
    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None

opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

def fetch(path, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with opener.open(base + path, body, timeout=20) as r:
        return r.geturl(), r.read().decode()

def form(page, action):
    p = Forms()
    p.feed(page)
    for f in p.forms:
        if f["action"].split("?")[0] == action:
            return f["fields"]
    sys.exit(f"no form posting to {action} on the page:\n{page[:2000]}")

_, page = fetch("/login")
url, page = fetch("/login", {**form(page, "/login"), "username": user, "password": password})
url, page = fetch("/login/2fa", {**form(page, "/login/2fa"), "code": code})
url, page = fetch("/account/security")
if urllib.parse.urlparse(url).path != "/account/security" or user not in page:
    sys.exit(f"not signed in: ended at {url}:\n{page[:2000]}")
print(f"signed in as {user}: {url}", file=sys.stderr)
PY

# --- pamtester through the installed module --------------------------------------------------
log "pamtester $SERVICE bob authenticate acct_mgmt (pam_stepgate.so from /$PAM_DIR)"
# By name, as a distribution's /etc/pam.d file names it: libpam finds it in its own folder.
# Password mode: the Stepgate password, then the code; the local configuration and database.
printf 'auth required pam_stepgate.so mode=password tries=1\naccount required pam_stepgate.so\n' \
  >"$CHROOT/etc/pam.d/$SERVICE"
BOB_CODE=$(code "$BOB")
printf '%s\n%s\n' "$PASSWORD" "$BOB_CODE" | in_root pamtester "$SERVICE" bob authenticate acct_mgmt >&2 ||
  die "pamtester: bob was refused"
if printf '%s\n%s\n' "$PASSWORD" "$BOB_CODE" | in_root pamtester "$SERVICE" bob authenticate >/dev/null 2>&1; then
  die "pamtester: a replayed TOTP code was accepted"
fi
rm -f "$CHROOT/etc/pam.d/$SERVICE"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
root_owned=$(find "$CHROOT/var/lib/stepgate" ! -user "$STEPGATE_UID")
[[ -z $root_owned ]] || die "files in /var/lib/stepgate the service cannot write: $root_owned"

# --- purge: nothing left behind --------------------------------------------------------------
log "apt-get purge libpam-stepgate stepgate"
in_root apt-get purge -y -q libpam-stepgate stepgate >"$CHROOT/tmp/purge.log" 2>&1 ||
  { cat "$CHROOT/tmp/purge.log" >&2; die "purging the packages"; }
for p in /etc/stepgate /var/lib/stepgate "/$PAM_DIR/pam_stepgate.so" /usr/share/pam-configs/stepgate \
  /usr/bin/stepgate /usr/lib/stepgate /usr/lib/systemd/system/stepgate.service; do
  [[ ! -e $CHROOT$p ]] || die "left behind after purge: $p"
done
! in_root getent passwd stepgate >/dev/null || die "left behind after purge: the user stepgate"
! in_root getent group stepgate >/dev/null || die "left behind after purge: the group stepgate"
! in_root dpkg-statoverride --list | grep -q stepgate || die "left behind after purge: a statoverride"
! grep -rqs stepgate "$CHROOT"/etc/pam.d/ "$CHROOT"/var/lib/pam/ || die "left behind after purge: a PAM reference"
# Anything new on the root file system that no installed package owns (the dependencies
# apt installed, libssl3 and the like, stay, and are theirs).
snapshot >"$CHROOT/tmp/after"
mapfile -t new < <(comm -13 "$CHROOT/tmp/before" "$CHROOT/tmp/after")
if ((${#new[@]})); then
  stray=$(in_root dpkg -S "${new[@]}" 2>&1 >/dev/null | sed -n 's/^dpkg-query: no path found matching pattern //p' |
    # The shadow tools' backups of the previous /etc/passwd, group, shadow, gshadow (made by
    # adduser and deluser, as for any package's user); the real files are checked above.
    grep -vxE '/etc/(passwd|group|shadow|gshadow)-' || true)
  [[ -z $stray ]] || die "left behind after purge (owned by no package): $stray"
fi

T_END=$(date +%s)
log "passed in $((T_END - T0)) s: build $((T_BUILD - T0)) s, lintian $((T_LINT - T_BUILD)) s, root $((T_ROOT - T_LINT)) s, install to purge $((T_END - T_ROOT)) s"
