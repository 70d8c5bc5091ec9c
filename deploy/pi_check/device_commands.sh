#!/bin/sh
# The commands the Raspberry Pi check runs on each device (the emulated Pi and this x86-64 machine), as an
# ordinary user with no network, against an installed bundle. Every output goes to OUT, where compare.py
# reads the probabilities, verdicts and heatmaps of both devices.
# Usage: sh device_commands.sh EDGE_SCAN FIXTURES OUT
set -eu
edge_scan=$1 fixtures=$2 out=$3
mkdir -p "$out"

# run NAME EXPECTED_EXIT COMMAND...: stdout to OUT/NAME, stderr to OUT/NAME.err; any other exit status stops the check.
run() {
    name=$1 expected=$2
    shift 2
    status=0
    "$@" >"$out/$name" 2>"$out/$name.err" || status=$?
    if [ "$status" -ne "$expected" ]; then
        echo "pi check: '$*' exited $status, expected $expected:" >&2
        tail -n 20 "$out/$name.err" >&2
        exit 1
    fi
    echo "pi check:   $name ok"
}

run selftest.txt 0 "$edge_scan" selftest
run samples-table.txt 0 "$edge_scan" scan --samples --patient-id PI-SAMPLES
run xrays-jobs2.json 0 "$edge_scan" scan "$fixtures/xrays" --format json --jobs 2 --patient-id PI-XRAYS
run report.json 0 "$edge_scan" scan --samples --no-history --format json \
    --report "$out/report.html" --heatmap-dir "$out/heatmaps"
# pydicom's CT in the folder is refused (wrong_modality), so the scan exits 1 with every X-ray scanned.
run dicom.json 1 "$edge_scan" scan "$fixtures/dicom" --format json --patient-id PI-DICOM
run history-fhir.json 0 "$edge_scan" history --format fhir
# The committed fixtures show 18 children per class, fewer than calibrate accepts: it scans all 126 site
# images, prints its figures for both thresholds and refuses (exit 1), and those figures are compared.
run calibrate.txt 1 "$edge_scan" calibrate "$fixtures/site" --target-sensitivity 0.95 --operator pi-check

# The health worker's app: start it on a free loopback port, fetch its first page, stop it.
"$edge_scan" app --port 0 2>"$out/app.err" &
app=$!
url=""
for _ in $(seq 1 300); do
    url=$(sed -n 's/.*open \(http[^ ]*\) in a web browser.*/\1/p' "$out/app.err")
    [ -z "$url" ] && kill -0 "$app" 2>/dev/null || break
    sleep 1
done
fetched=0
"$(dirname "$edge_scan")/python" - "$url" >"$out/app-first-page.txt" <<'EOF' || fetched=$?
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as response:
    page = response.read().decode()
print(response.status, "PneumoScan" in page, len(page) > 500)
EOF
kill "$app" 2>/dev/null || true
wait "$app" 2>/dev/null || true
if [ "$fetched" -ne 0 ] || [ "$(cat "$out/app-first-page.txt")" != "200 True True" ]; then
    echo "pi check: edge-scan app did not serve its first page (${url:-no address announced}):" >&2
    tail -n 20 "$out/app.err" >&2
    exit 1
fi
echo "pi check:   app first page ok ($url)"
