#!/usr/bin/env bash
# The emulated Raspberry Pi check: PneumoScan installed from an offline bundle on Raspberry Pi OS 64-bit
# (Debian 12 arm64, Python 3.11), run under QEMU 10 user-mode emulation, must print exactly what it prints
# on this x86-64 machine.
#
#   sudo bash deploy/pi_check/run.sh        (from the repository; needs root, Debian 12 or newer, the registry)
#
# It installs debootstrap and QEMU 10 (qemu-user-static from bookworm-backports: Debian 12's own QEMU 7.2
# shows the guest the host's /proc/cpuinfo, on which LiteRT's CPU detection crashes, and mis-emulates SME),
# mounts binfmt_misc and registers the aarch64 interpreter; builds the linux-aarch64 and linux-x86_64 bundles
# with every device extra; makes an arm64 Debian 12 root with debootstrap (or reuses it from the cache);
# installs each bundle with `sh install.sh` as an ordinary user with no network; runs device_commands.sh on
# both and the device test suite on the Pi; and fails on any difference (compare.py).
#
# Settings (environment): PI_CHECK_CPUS (QEMU CPU models, default "cortex-a72": a Pi 4; "cortex-a76" is a
# Pi 5), PI_CHECK_CACHE (default /var/cache/pneumoscan-pi), PI_CHECK_PYTHON (a Python with PneumoScan and
# its test extra installed, default .venv-device/bin/python), PI_CHECK_MIRROR (Debian mirror).
set -euo pipefail
SECONDS=0
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${PI_CHECK_CACHE:-/var/cache/pneumoscan-pi}
cpus=${PI_CHECK_CPUS:-cortex-a72}
host_python=${PI_CHECK_PYTHON:-$repo/.venv-device/bin/python}
mirror=${PI_CHECK_MIRROR:-http://deb.debian.org/debian}
root_packages=python3,python3-venv
binfmt=/proc/sys/fs/binfmt_misc
# The device tests whose results rest on native code built apart for arm64 (LiteRT, numpy, Pillow, the DICOM
# decoders, cryptography): golden outputs, model, preprocessing, DICOM, heatmap, gate, threads, signatures,
# no network. The whole device suite takes about twenty times longer emulated, more than CI's budget allows.
pi_tests=(tests/device/test_{shipped_model_golden,preprocess_golden,shipped_model,fixture_model,preprocess,quality}.py
    tests/device/test_{dicom,heatmap,gate,parallel_scan,batch_scoring,native_stderr,offline,update_signing,scan}.py)
user_id=1000 # the ordinary user "pi", as on Raspberry Pi OS, inside the root and on this machine
work=""

say() { echo "pi check: $* (${SECONDS}s)"; }
fail() {
    echo "pi check: FAILED: $*" >&2
    exit 1
}

# Unmount everything under the work folder and a half-made root, whatever happened; remove them only when
# nothing is mounted there any more (rm must never reach the host's /dev or /sys through a bind mount).
cleanup() {
    local status=$? target left=""
    set +e
    for target in $(findmnt -rn -o TARGET | grep -E "^(${work:-/nonexistent}|$cache/build\.)" | sort -r); do
        umount -R "$target" 2>/dev/null || umount -l "$target"
    done
    left=$(findmnt -rn -o TARGET | grep -E "^(${work:-/nonexistent}|$cache/build\.)")
    if [ -n "$left" ]; then
        echo "pi check: could not unmount, left in place: $left" >&2
        status=1
    else
        [ -z "$work" ] || rm -rf --one-file-system "$work"
        rm -rf --one-file-system "$cache"/build.*
    fi
    say "finished with exit status $status; total time ${SECONDS}s"
    exit "$status"
}
# Stopped (Ctrl+C, or CI stopping it): stop every process it started, then clean up. Long steps run in the
# background with `wait`, which a signal interrupts at once (bash runs a trap only between commands).
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1"); do
        descendants "$child"
        echo "$child"
    done
}
stop() {
    kill -TERM $(descendants $$) 2>/dev/null
    exit 130
}
trap cleanup EXIT
trap stop INT TERM

qemu_major() { "$1" --version 2>/dev/null | sed -n 's/^qemu-aarch64 version \([0-9]*\).*/\1/p'; }

install_tools() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap
    fi
    if [ "$(qemu_major /usr/bin/qemu-aarch64-static || true)" -lt 10 ] 2>/dev/null || ! [ -x /usr/bin/qemu-aarch64-static ]; then
        local release=()
        if [ "$codename" = bookworm ]; then
            cat >/etc/apt/sources.list.d/bookworm-backports.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
            release=(-t bookworm-backports)
        fi
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${release[@]}" qemu-user-static qemu-user-binfmt
    fi
    local major
    major=$(qemu_major /usr/bin/qemu-aarch64-static)
    [ "${major:-0}" -ge 10 ] || fail "QEMU $major is installed; the check needs QEMU 10 or newer (bookworm-backports)"
    say "QEMU $major, debootstrap $(dpkg-query -W -f '${Version}' debootstrap)"
}

# binfmt_misc lets the kernel hand arm64 programs to QEMU. The F flag opens the interpreter now, so it
# works inside the root without a copy there. An older QEMU registered for aarch64 is replaced.
register_qemu() {
    if [ ! -e "$binfmt/register" ]; then
        local error
        error=$(mount -t binfmt_misc binfmt_misc "$binfmt" 2>&1) ||
            fail "binfmt_misc cannot be mounted on this machine ($error). Without it no arm64 program can run, so" \
                "the emulated Raspberry Pi check cannot run here; it is not skipped. Run CI on a VM or a" \
                "privileged container."
    fi
    local entry=$binfmt/qemu-aarch64 interpreter
    if [ -e "$entry" ]; then
        interpreter=$(sed -n 's/^interpreter //p' "$entry")
        if [ "$(qemu_major "$interpreter")" != "$(qemu_major /usr/bin/qemu-aarch64-static)" ] ||
            ! grep -q '^flags:.*F' "$entry"; then
            echo -1 >"$entry"
        fi
    fi
    [ -e "$entry" ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register"
    say "binfmt_misc: aarch64 programs run with $(sed -n 's/^interpreter //p' "$entry")"
}

# The arm64 Debian 12 root, with the user pi, from the cache or made now (debootstrap, then a tar file).
arm64_root() {
    local key tarball build started
    key=$(echo "bookworm $root_packages $mirror user$user_id" | sha256sum | cut -c1-12)
    tarball=$cache/debian12-arm64-$key.tar
    mkdir -p "$cache" "$1"
    exec 9>"$cache/lock"
    flock 9
    if [ ! -s "$tarball" ]; then
        build=$cache/build.$$
        started=$SECONDS
        say "making the arm64 Debian 12 root with debootstrap (log: $cache/debootstrap.log)"
        debootstrap --arch=arm64 --variant=minbase --include="$root_packages" bookworm "$build" "$mirror" \
            >"$cache/debootstrap.log" 2>&1 &
        wait $! || fail "debootstrap failed; the end of $cache/debootstrap.log:
$(tail -n 20 "$cache/debootstrap.log")"
        chroot "$build" useradd --create-home --uid "$user_id" --shell /bin/sh pi
        tar -C "$build" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
        rm -rf --one-file-system "$build"
        say "debootstrap took $((SECONDS - started))s; the root is cached in $tarball"
    else
        say "reusing the arm64 Debian 12 root cached in $tarball (no debootstrap)"
    fi
    flock -u 9
    tar -C "$1" -xf "$tarball"
}

mount_system() {
    mount -t proc proc "$1/proc"
    mount --rbind /sys "$1/sys" && mount --make-rslave "$1/sys"
    mount --rbind /dev "$1/dev" && mount --make-rslave "$1/dev"
}

# A new network namespace: loopback only (the app listens there), no way out.
offline() { unshare -n sh -c 'ip link set lo up && exec "$@"' offline "$@"; }

# Run a command as pi on the emulated Pi with CPU model $1, with no network.
on_pi() {
    local cpu=$1
    shift
    QEMU_CPU=$cpu offline chroot --userspec="$user_id:$user_id" "$root" env -i HOME=/home/pi USER=pi LOGNAME=pi \
        PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 QEMU_CPU="$cpu" PNEUMOSCAN_HOME="/home/pi/data-$cpu" "$@" &
    wait $!
}

# Run a command as the same ordinary user on this machine, with no network.
on_host() {
    offline setpriv --reuid="$user_id" --regid="$user_id" --clear-groups env -i HOME="$host_home" USER=pi \
        LOGNAME=pi PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PNEUMOSCAN_HOME="$host_home/data-x86_64" "$@" &
    wait $!
}

# Wheels for the device tests on the Pi: the test extra but ruff and playwright (which drives a desktop Chromium).
test_wheels() {
    local requirements
    mapfile -t requirements < <("$host_python" - "$repo" <<'EOF'
import sys, tomllib
from pathlib import Path
test = tomllib.loads((Path(sys.argv[1]) / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
print("\n".join(r for r in test if not r.startswith(("ruff", "pneumoscan", "playwright"))))
EOF
    )
    local tags
    mapfile -t tags < <("$host_python" -c 'from quantize.offline_bundle import PLATFORMS
print("\n".join(f"--platform={tag}" for tag in PLATFORMS["linux-aarch64"].tags))')
    "$host_python" -m pip download --quiet --only-binary=:all: "${tags[@]}" --python-version 3.11 \
        --implementation cp --dest "$1" "${requirements[@]}"
}

main() {
    [ "$(id -u)" -eq 0 ] || fail "run as root (it mounts binfmt_misc and /proc, /sys, /dev in the arm64 root)"
    [ -x "$host_python" ] || fail "no $host_python: install PneumoScan with its test extra there, or set PI_CHECK_PYTHON"
    install_tools
    register_qemu
    work=$(mktemp -d /var/tmp/pneumoscan-pi.XXXXXX)
    chmod 755 "$work"
    root=$work/root host_home=$work/x86_64/home/pi
    arm64_root "$root"
    mount_system "$root"
    say "the root is up: $(on_pi "${cpus%% *}" uname -m), $(on_pi "${cpus%% *}" python3 --version)"

    # The committed files, copied: the bundles are built from the copy (a build writes into its source folder,
    # which CI's own tests build from at the same time) and the Pi runs its tests from it.
    local source=$work/src extras edge_export
    mkdir -p "$source" && git -C "$repo" ls-files -z | (cd "$repo" && tar --null -T - -cf -) | tar -C "$source" -xf -
    edge_export=$(dirname "$host_python")/edge-export
    extras=$("$host_python" -c 'import sys; from pathlib import Path; from quantize.offline_bundle import device_extras
print(",".join(device_extras(Path(sys.argv[1]))))' "$source")
    mkdir -p "$host_home"
    cp -r "$source" "$root/home/pi/src"
    "$edge_export" bundle --platform linux-aarch64 --extras "$extras" --source "$source" --out "$root/home/pi/usb"
    "$edge_export" bundle --platform linux-x86_64 --extras "$extras" --source "$source" --out "$host_home/usb"
    test_wheels "$root/home/pi/testwheels"
    (cd "$repo" && PYTHONPATH=$repo "$host_python" "$here/make_fixtures.py" "$work/fixtures")
    cp -r "$work/fixtures" "$root/home/pi/fixtures" && cp -r "$work/fixtures" "$host_home/fixtures"
    cp "$here/device_commands.sh" "$root/home/pi/" && cp "$here/device_commands.sh" "$host_home/"
    chown -R "$user_id:$user_id" "$root/home/pi" "$work/x86_64"
    say "bundles with extras '$extras', fixtures and the test suite are in place"

    on_host sh "$host_home/usb/install.sh" "$host_home/pneumoscan"
    on_host sh "$host_home/device_commands.sh" "$host_home/pneumoscan/bin/edge-scan" "$host_home/fixtures" \
        "$host_home/out/x86_64"
    say "x86-64: installed offline and ran the commands"
    local cpu status=0
    on_pi "${cpus%% *}" sh /home/pi/usb/install.sh
    say "emulated Pi: installed offline as pi with sh install.sh"
    for cpu in $cpus; do
        say "emulated Pi, QEMU CPU $cpu: $(on_pi "$cpu" grep -m1 'CPU part' /proc/cpuinfo)"
        on_pi "$cpu" sh /home/pi/device_commands.sh /home/pi/pneumoscan/bin/edge-scan /home/pi/fixtures \
            "/home/pi/out/$cpu"
        say "emulated Pi, $cpu: ran the commands"
        "$host_python" "$here/compare.py" "$host_home/out/x86_64" "$root/home/pi/out/$cpu" || status=1
    done
    on_pi "${cpus%% *}" sh -c '/home/pi/pneumoscan/bin/python -m pip install --quiet --no-index \
        --find-links /home/pi/testwheels /home/pi/testwheels/*.whl'
    on_pi "${cpus%% *}" sh -c "cd /home/pi/src && /home/pi/pneumoscan/bin/python -m pytest -q -p no:cacheprovider \
        ${pi_tests[*]}" || fail "device tests failed on the emulated Pi"
    say "emulated Pi: the device tests passed"
    [ "$status" -eq 0 ] || fail "the emulated Pi printed something different from x86-64 (above)"
    say "PASSED: the emulated Raspberry Pi ($cpus) printed exactly what x86-64 printed"
}

main "$@"
