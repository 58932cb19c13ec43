#!/usr/bin/env bash
# Checks the sipp scenarios in .. against fake_uas.py (no Hotline needed):
# every scenario must complete one call, and uac_rfc2833.xml must FAIL when
# the answer drops telephone-event. Run after editing a scenario. Takes ~35 s
# (the calls run in parallel). Needs sipp and python3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run NAME MODE SCENARIO MEDIAPORT [SIPP ARGS...]: one call; prints "NAME rc=N" and the UAS's JSON.
run() {
	local name=$1 mode=$2 sc=$3 mp=$4 port upid
	shift 4
	python3 -u "$here/fake_uas.py" "$mode" >"$out/$name.uas" &
	upid=$!
	for _ in $(seq 50); do grep -q PORT "$out/$name.uas" && break; sleep 0.1; done
	port=$(head -1 "$out/$name.uas" | cut -d' ' -f2)
	timeout 70 sipp -sf "$sc" -s 200 -m 1 -timeout 60s -timeout_error -i 127.0.0.1 -mi 127.0.0.1 \
		-mp "$mp" -nostdin -error_file "$out/$name.err" -trace_err "$@" 127.0.0.1:"$port" >"$out/$name.sipp" 2>&1
	echo "$name rc=$?" >"$out/$name.rc"
	for _ in $(seq 30); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
	kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null
}
run rfc2833 bye:17 uac_rfc2833.xml 16010 &
run info bye:16 uac_info.xml 16020 &
run bye_wait bye:3 uac_bye_wait.xml 16030 &
run cancel cancel uac_cancel.xml 16040 &
run no_te no-te uac_rfc2833.xml 16050 &
run nat bye:17 uac_nat_rfc2833.xml 16060 -key sdp_ip 127.0.0.5 -key sdp_port 16062 &
run reflect bye:3 uac_reflect.xml 16070 -key sdp_ip 127.0.0.7 -key sdp_port 16072 &
wait
fail=0
for n in rfc2833 info bye_wait cancel no_te nat reflect; do
	rc=$(cut -d= -f2 "$out/$n.rc")
	want=0; [[ $n == no_te ]] && want=1
	if [[ $rc == "$want" ]]; then echo "ok   $n (sipp exit $rc)"; else echo "FAIL $n (sipp exit $rc, want $want)"; fail=1; fi
	tail -1 "$out/$n.uas" | cut -c1-400
done
exit $fail
