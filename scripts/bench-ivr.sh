#!/usr/bin/env bash
# bench-ivr.sh: the two sipp caller scenarios of issue 15 (bench/ivr/, a copy
# of ../shared/bench/) against `hotline serve`, this tree's build against a
# base revision's build, in one invocation, alternating base/head per step.
# The server is pinned to one core (taskset -c $SERVER_CPU, default 1), sipp
# to the other (run-load.sh -c $SIPP_CPU, default 0). docs/benchmarks.md
# ("IVR scenarios against Asterisk's") says what is measured and records it.
#
#   BENCH_QUICK=1   about 3 minutes: one dtmf rate, one clean-rate probe, 1,000 held calls
#   BENCH_BASE=REV  the base build (default HEAD~1; "none": head only)
#   BENCH_HEAD=REV  the head build (default: the working tree as it is)
#   SERVER_CPU, SIPP_CPU       cores (default 1 and 0)
#   BENCH_SIPP_MP   sipp's RTP base port (run-load.sh -M; default a free pair in 1100-2000, sipp_media_port)
#   DTMF_RATE, DTMF_SECS       the CPU-per-call/s run (100 calls/s, 20 s)
#   DTMF_STEPS, DTMF_STEP_SECS the clean-rate sweep ("200 300 400", 10 s; quick "300", 6 s)
#   QUEUE_STEPS                held-call levels ("1000 1500 2000"; quick "1000"; "": none); each reached
#                              at N/11 calls/s (1,000 at 91/s as in run-load.sh's README) and
#                              held QUEUE_SECS of call generation (25; quick 20), with a
#                              tshark capture of RTP_SECS (10; quick 6) on the plateau
#   IVR_PROFILE=1   also profile the head tree under ivr_queue at the first level
#                   (bench/profserver: hotline serve + pprof): a 10 s CPU profile on the
#                   plateau, goroutines, Go heap and stacks per call
#   IVR_PROFILE=dtmf  the same under ivr_dtmf at PROFILE_RATE calls/s (default 150) for
#                   30 s, the profile taken from 14 s on (the plateau: a call lasts ~5 s)
#   BENCH_NICE=N    run the server and sipp (and its samplers) at nice N, e.g. -10 on a
#                   machine whose cores are shared: a starved server does less work,
#                   not the same work slower, and no figure then compares
#   BENCH_SHARED_PORT=1  run the head build in shared-port media mode (media.shared_ports
#                   $BENCH_SHARED_PORTS, default 31000, for callers on 127.0.0.0/8:
#                   docs/configuration.md "Shared RTP port"); BENCH_BASE=HEAD then compares
#                   the same commit with the mode off (base) and on (head)
#   OUT             where every run's run-load.sh output stays (default /tmp/hotline-bench-ivr.<date>)
#
# Needs root (sipp's play_pcap_audio uses a raw socket), sipp, sysstat
# (pidstat, mpstat), tshark, python3, curl, git and go. Every run is bounded
# by run-load.sh; servers are stopped by PID. Exit status 0 unless the
# harness itself fails (failed calls are results, printed).
set -euo pipefail
# The whole script is one brace group, parsed before it runs: editing the
# file during a run does not derail the run.
{
cd "$(dirname "$0")/.."
ROOT=$PWD
GO=${GO:-go}

QUICK=${BENCH_QUICK:-0}
BENCH_BASE=${BENCH_BASE:-HEAD~1}
SERVER_CPU=${SERVER_CPU:-1}
SIPP_CPU=${SIPP_CPU:-0}
DTMF_RATE=${DTMF_RATE:-100}
DTMF_SECS=${DTMF_SECS:-20}
if ((QUICK)); then
	DTMF_STEPS=${DTMF_STEPS-300} DTMF_STEP_SECS=${DTMF_STEP_SECS:-6}
	QUEUE_STEPS=${QUEUE_STEPS-1000} QUEUE_SECS=${QUEUE_SECS:-20} RTP_SECS=${RTP_SECS:-6}
else
	DTMF_STEPS=${DTMF_STEPS-"200 300 400"} DTMF_STEP_SECS=${DTMF_STEP_SECS:-10}
	QUEUE_STEPS=${QUEUE_STEPS-"1000 1500 2000"} QUEUE_SECS=${QUEUE_SECS:-25} RTP_SECS=${RTP_SECS:-10}
fi
OUT=${OUT:-/tmp/hotline-bench-ivr.$(date -u +%Y%m%dT%H%M%S)}
NICE=""
[[ -n ${BENCH_NICE:-} ]] && NICE="nice -n $BENCH_NICE"

missing=""
for t in sipp pidstat mpstat tshark python3 curl git taskset "$GO"; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
[[ -z $missing ]] || { echo "bench-ivr: missing tools:$missing (apt-get install sip-tester sysstat tshark)" >&2; exit 2; }
((EUID == 0)) || { echo "bench-ivr: needs root (sipp's play_pcap_audio sends RTP through a raw socket)" >&2; exit 2; }
(($(nproc) >= 2)) || { echo "bench-ivr: needs 2 CPUs (server and sipp on one each)" >&2; exit 2; }

mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/hotline-bench-ivr-tmp.XXXXXX)
SRV_PID="" BASE_TREE=""
cleanup() {
	[[ -n $SRV_PID ]] && stop_server
	if [[ -n $BASE_TREE ]]; then git worktree remove --force "$BASE_TREE" 2>/dev/null || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through cleanup: the server is stopped

# --- the builds --------------------------------------------------------------
# build_rev REV NAME: $OUT/hotline.NAME from a detached worktree at REV.
build_rev() {
	BASE_TREE=$TMP/tree-$2
	git worktree add --quiet --detach "$BASE_TREE" "$1"
	(cd "$BASE_TREE" && $GO build -o "$OUT/hotline.$2" ./cmd/hotline)
	git worktree remove --force "$BASE_TREE"
	BASE_TREE=""
}
if [[ -n ${BENCH_HEAD:-} ]]; then
	head_rev=$(git rev-parse --short "$BENCH_HEAD^{commit}")
	echo "== building head ($head_rev) and base ($BENCH_BASE)"
	build_rev "$head_rev" head
else
	head_rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo +dirty)
	echo "== building head ($head_rev, the working tree) and base ($BENCH_BASE)"
	$GO build -o "$OUT/hotline.head" ./cmd/hotline
fi
BUILDS=(head)
declare -A LABEL=([head]="head $head_rev")
SHARED=${BENCH_SHARED_PORT:-0}
((SHARED)) && LABEL[head]+=" shared"
# shared_yaml BUILD: the shared-port media keys, for the head build (and its
# profile) when BENCH_SHARED_PORT=1; sipp's calls send RTP from their SDP
# address ([auto_media_port]), one port per call, so every call can share.
shared_yaml() {
	if ((SHARED)) && [[ $1 == head || $1 == prof ]]; then
		printf '  shared_ports: [%s]\n  shared_port_networks: [127.0.0.0/8]\n' "${BENCH_SHARED_PORTS:-31000}"
	fi
}
if [[ $BENCH_BASE != none ]]; then
	base_rev=$(git rev-parse --short "$BENCH_BASE^{commit}")
	build_rev "$base_rev" base
	BUILDS=(base head)
	LABEL[base]="base $base_rev"
fi

# Prompts: the repository's, with the two the scenarios are timed on.
mkdir -p "$TMP/prompts"
cp -r prompts/. "$TMP/prompts/"
cp bench/ivr/welcome.wav bench/ivr/option1.wav "$TMP/prompts/en/"

# shellcheck source=scripts/ports.sh
. "$(dirname "$0")/ports.sh" # free_block: ports named before a bind, out of the ephemeral range
active_calls() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^hotline_calls_active /{print $2}'; }

# start_server BUILD: a fresh server (fresh SQLite, fresh RSS baseline).
start_server() {
	local base
	base=$(free_block)
	SIP_PORT=$((base + 1))
	HTTP_PORT=${NEXT_HTTP_PORT:-$((base + 3))}
	NEXT_HTTP_PORT=""
	rm -rf "$TMP/db" && mkdir -p "$TMP/db"
	cat >"$TMP/hotline.yaml" <<EOF
sip:
  udp: 127.0.0.1:$SIP_PORT
  tcp: ""
  max_calls: 10000
  rate_limit: 0
  rate_limit_total: -1
  max_unconfirmed_per_source: -1
  drain_time: 2s
media:
  port_min: 20000 # below the ephemeral range (scripts/bench.sh)
  port_max: 30000
  prompts: $TMP/prompts
  inactivity_timeout: 30s
$(shared_yaml "$1")
http:
  addr: 127.0.0.1:$HTTP_PORT
flows:
  dir: $ROOT/bench/ivr/flows
  watch: false
queues:
  support:
    max_wait: 10s
    join_empty: true
    exit: bye
    max_length: 10000
    music: hold-music
database:
  url: sqlite:$TMP/db/hotline.db
  spool_dir: $TMP/db/spool
log:
  level: error
EOF
	local cmd=("$OUT/hotline.$1" serve)
	[[ $1 == prof ]] && cmd=("$OUT/profserver" --pprof "127.0.0.1:$PPROF_PORT")
	(ulimit -n "$(ulimit -Hn)" && exec $NICE taskset -c "$SERVER_CPU" "${cmd[@]}" --config "$TMP/hotline.yaml") >"$TMP/server.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "server $1 did not come up:" >&2
	cat "$TMP/server.log" >&2
	exit 1
}

stop_server() {
	kill "$SRV_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SRV_PID/stat"; }
rtp_packets() {
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^hotline_rtp_packets_total\{kind="(sent|received)"\}/{s += $2} END{printf "%d\n", s}'
}

wait_idle() {
	for _ in $(seq 150); do
		[[ $(active_calls) == 0 ]] && return 0
		sleep 0.2
	done
	echo "   warning: server still has $(active_calls) calls up"
}

# sipp_media_port: a base for sipp's RTP (run-load.sh -M) whose two bound
# ports (base, base+2) are free. sipp binds only those; its per-call RTP
# ports (base .. base+9999, from the pcaps through a raw socket) are never
# bound, so concurrent benches on a shared machine need only distinct
# bound pairs: with the fixed 6000 a second bench's sipp failed at once
# ("Unable to bind audio RTP socket", 0 calls). 1100-2000 keeps every
# per-call port under 12000 (testports' ranges and the server's RTP above).
sipp_media_port() { free_block 1100 2000; }

# run BUILD NAME run-load.sh-ARGS...: one run on a fresh server; its summary
# lands in $OUT/NAME.BUILD/summary.txt.
run() {
	local b=$1 name=$2
	shift 2
	start_server "$b"
	sleep 1
	local dir=$OUT/$name.$b t0
	rm -rf "$dir"
	t0=$(cpu_ticks)
	set +e
	$NICE bench/ivr/run-load.sh "127.0.0.1:$SIP_PORT" -c "$SIPP_CPU" -p "$(($(free_block) + 1))" -M "${BENCH_SIPP_MP:-$(sipp_media_port)}" -P "$SRV_PID" -o "$dir" "$@" >"$dir.log" 2>&1
	set -e
	wait_idle
	# The server's CPU time over the run and the RTP packets its finished
	# calls sent and received: a cost per unit of work done, which holds
	# when neighbours starve the server of its core (then it does less
	# work rather than the same work slower, and %CPU says little).
	awk -v t="$(cpu_ticks)" -v t0="$t0" -v hz="$(getconf CLK_TCK)" -v k="$(rtp_packets)" 'BEGIN{printf "server_cpu_s=%.2f\nserver_rtp_packets=%d\n", (t - t0) / hz, k}' >"$dir/server.txt"
	stop_server
	[[ -f $dir/summary.txt ]] || { echo "   $name $b: no summary (see $dir.log)"; return 0; }
	printf '   %-14s %-5s %s\n' "$name" "$b" "$(kv "$dir" successful) ok, $(kv "$dir" failed) failed, $(kv "$dir" retransmissions) retrans, peak $(kv "$dir" peak_concurrent), call $(kv "$dir" call_length_ms_mean) ms, server cpu $(kv "$dir" server_cpu_steady_avg_pct) %, rss $(kv "$dir" server_rss_first_MiB)->$(kv "$dir" server_rss_max_MiB) MiB"
}
kv() { cat "$1/summary.txt" "$1/server.txt" 2>/dev/null | awk -F= -v k="$2" '$1 == k {print $2}'; }

# next_order: ORDER = the builds of the next step, base first on even steps
# and head first on odd ones (so neither build always runs on a warmer machine).
step=0
next_order() {
	if ((${#BUILDS[@]} == 1 || step % 2 == 0)); then ORDER="${BUILDS[*]}"; else ORDER="head base"; fi
	step=$((step + 1))
}
# clean DIR: no failed call, retransmissions under 1 % of the calls, and the
# calls not cut short (mean length within 10 % of the expected one).
clean() {
	awk -v f="$(kv "$1" failed)" -v r="$(kv "$1" retransmissions)" -v n="$(kv "$1" total_calls)" -v l="$(kv "$1" call_length_ms_mean)" -v want="$2" \
		'BEGIN{exit !(f == 0 && n > 0 && r <= n / 100 && l >= 0.9 * want)}'
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
echo "server on CPU $SERVER_CPU, sipp on CPU $SIPP_CPU${NICE:+, both at $NICE}; builds: ${LABEL[*]}; output in $OUT"

echo
echo "== ivr_dtmf at $DTMF_RATE calls/s for ${DTMF_SECS}s (CPU per call/s)"
next_order
for b in $ORDER; do run "$b" dtmf -s dtmf -r "$DTMF_RATE" -d "$DTMF_SECS"; done

echo
echo "== ivr_dtmf clean-rate sweep: $DTMF_STEPS calls/s, ${DTMF_STEP_SECS}s each (stops at a build's first unclean step)"
declare -A BEST STOPPED
for r in $DTMF_STEPS; do
	next_order
	for b in $ORDER; do
		[[ -n ${STOPPED[$b]:-} ]] && continue
		run "$b" "dtmf-$r" -s dtmf -r "$r" -d "$DTMF_STEP_SECS"
		if clean "$OUT/dtmf-$r.$b" 4170; then BEST[$b]=$r; else STOPPED[$b]=1; fi
	done
done

echo
echo "== ivr_queue: held calls $QUEUE_STEPS (N/11 calls/s, ${QUEUE_SECS}s of generation, RTP captured ${RTP_SECS}s on the plateau)"
declare -A HELD
for n in $QUEUE_STEPS; do
	rate=$(((n + 10) / 11))
	next_order
	for b in $ORDER; do
		run "$b" "queue-$n" -s queue -l "$n" -r "$rate" -d "$QUEUE_SECS" -T "$RTP_SECS" -W 12
		d=$OUT/queue-$n.$b
		if clean "$d" 12200 && awk -v c="$(kv "$d" server_cpu_steady_avg_pct)" 'BEGIN{exit !(c < 90)}'; then HELD[$b]=$n; fi
	done
done

if [[ ${IVR_PROFILE:-0} == 1 || ${IVR_PROFILE:-0} == dtmf ]]; then
	n=$(set -- $QUEUE_STEPS; echo "${1:-1000}")
	prate=${PROFILE_RATE:-150}
	echo
	if [[ $IVR_PROFILE == dtmf ]]; then
		echo "== profile: head under ivr_dtmf at $prate calls/s (bench/profserver), 10 s CPU profile on the plateau"
	else
		echo "== profile: head under ivr_queue at $n held calls (bench/profserver), 10 s CPU profile on the plateau"
	fi
	$GO build -o "$OUT/profserver" ./bench/profserver
	pbase=$(free_block)
	PPROF_PORT=$((pbase + 1)) NEXT_HTTP_PORT=$((pbase + 3))
	pp="http://127.0.0.1:$PPROF_PORT/debug/pprof"
	(
		sleep 3
		g0=$(curl -sf "$pp/goroutine?debug=1" | awk 'NR==1{print $4}')
		curl -sf "$pp/heap?debug=1" | awk '/^# HeapInuse = /{h=$4} /^# Stack = /{s=$4} END{print h, s}' >"$OUT/prof.mem0"
		sleep 11
		curl -sf -o "$OUT/cpu.pprof" "$pp/profile?seconds=10" &
		sleep 5
		a=$(curl -sf "http://127.0.0.1:$NEXT_HTTP_PORT/metrics" | awk '/^hotline_calls_active /{print $2}')
		g1=$(curl -sf "$pp/goroutine?debug=1" | awk 'NR==1{print $4}')
		curl -sf "$pp/heap?debug=1" | awk '/^# HeapInuse = /{h=$4} /^# Stack = /{s=$4} END{print h, s}' >"$OUT/prof.mem1"
		read -r h0 s0 <"$OUT/prof.mem0"
		read -r h1 s1 <"$OUT/prof.mem1"
		awk -v a="$a" -v g0="$g0" -v g1="$g1" -v h0="$h0" -v h1="$h1" -v s0="$s0" -v s1="$s1" 'BEGIN{
			printf "goroutines: idle %d, with %d calls up %d = %.2f per call; Go heap in use %.1f KiB and stacks %.1f KiB per call\n",
				g0, a, g1, a ? (g1 - g0) / a : 0, a ? (h1 - h0) / 1024 / a : 0, a ? (s1 - s0) / 1024 / a : 0}' >"$OUT/prof.txt"
		wait
	) &
	prof_pid=$!
	if [[ $IVR_PROFILE == dtmf ]]; then
		run prof "dtmf-prof" -s dtmf -r "$prate" -d 30
	else
		run prof "queue-$n" -s queue -l "$n" -r $(((n + 10) / 11)) -d 30
	fi
	wait "$prof_pid" || true
	cat "$OUT/prof.txt" 2>/dev/null || true
	echo "CPU profile ($OUT/cpu.pprof), top 30 by cumulative, then top 25 flat:"
	$GO tool pprof -top -cum -nodecount=30 "$OUT/profserver" "$OUT/cpu.pprof" 2>/dev/null | sed -n '4,40p' || true
	$GO tool pprof -top -nodecount=25 "$OUT/profserver" "$OUT/cpu.pprof" 2>/dev/null | sed -n '6,31p' || true
fi

# --- figures -----------------------------------------------------------------
q1=$(set -- $QUEUE_STEPS; echo "${1:-}")
fig() { # fig BUILD NAME: one figure of one build (empty when the run has none)
	local b=$1 d
	case $2 in
	dtmf_cpu) d=$OUT/dtmf.$b; awk -v c="$(kv "$d" server_cpu_steady_avg_pct)" -v r="$DTMF_RATE" 'BEGIN{if (c != "") printf "%.3f", c / r}' ;;
	dtmf_ms) d=$OUT/dtmf.$b; awk -v c="$(kv "$d" server_cpu_s)" -v n="$(kv "$d" successful)" 'BEGIN{if (n > 0) printf "%.2f", 1000 * c / n}' ;;
	queue_us) d=$OUT/queue-$q1.$b; awk -v c="$(kv "$d" server_cpu_s)" -v k="$(kv "$d" server_rtp_packets)" 'BEGIN{if (k > 0) printf "%.2f", 1e6 * c / k}' ;;
	queue_pps) d=$OUT/queue-$q1.$b; kv "$d" rtp_pps_per_stream_mean ;;
	dtmf_best) if [[ -n $DTMF_STEPS ]]; then echo "${BEST[$b]:-<$(set -- $DTMF_STEPS; echo "$1")}"; fi ;;
	queue_cpu) d=$OUT/queue-$q1.$b; awk -v c="$(kv "$d" server_cpu_steady_avg_pct)" -v n="$(kv "$d" peak_concurrent)" 'BEGIN{if (n > 0) printf "%.4f", c / n}' ;;
	queue_est) d=$OUT/queue-$q1.$b; awk -v c="$(kv "$d" server_cpu_steady_avg_pct)" -v n="$(kv "$d" peak_concurrent)" 'BEGIN{if (c > 0) printf "%d", 90 * n / c}' ;;
	queue_held) echo "${HELD[$b]:-<$q1}" ;;
	rss) d=$OUT/queue-$q1.$b; awk -v f="$(kv "$d" server_rss_first_MiB)" -v m="$(kv "$d" server_rss_max_MiB)" -v n="$(kv "$d" peak_concurrent)" 'BEGIN{if (n > 0) printf "%.1f", (m - f) * 1024 / n}' ;;
	gap | mjit | xjit | lost) d=$OUT/queue-$q1.$b
		kv "$d" "$(case $2 in gap) echo rtp_max_delta_ms_max ;; mjit) echo rtp_mean_jitter_ms_avg ;; xjit) echo rtp_max_jitter_ms_max ;; lost) echo rtp_lost ;; esac)" ;;
	esac
}
row() { # row NAME LABEL
	local a h
	h=$(fig head "$1")
	if ((${#BUILDS[@]} == 2)); then
		a=$(fig base "$1")
		printf '%-58s %12s %12s %8s\n' "$2" "${a:--}" "${h:--}" \
			"$(awk -v a="$a" -v h="$h" 'BEGIN{if (a + 0 > 0 && h ~ /^[0-9.]+$/ && a ~ /^[0-9.]+$/) printf "%.2f", h / a; else print "-"}')"
	else
		printf '%-58s %12s\n' "$2" "${h:--}"
	fi
}
echo
echo "== figures (server on one core; head/base: < 1 is better for costs, > 1 for capacities)"
echo "   (the CPU per call and per packet rows hold under contention; the % of a core rows only on idle cores)"
if ((${#BUILDS[@]} == 2)); then
	printf '%-58s %12s %12s %8s\n' "" "${LABEL[base]}" "${LABEL[head]}" "head/base"
fi
row dtmf_ms "ivr_dtmf: server CPU ms per successful call (at $DTMF_RATE/s)"
row dtmf_cpu "ivr_dtmf: % of a core per call/s (at $DTMF_RATE/s)"
row dtmf_best "ivr_dtmf: highest clean rate, calls/s (of $DTMF_STEPS)"
if [[ -n $q1 ]]; then # QUEUE_STEPS="": the dtmf rows only
	row queue_us "ivr_queue: server CPU us per RTP packet sent+received (at $q1)"
	row queue_cpu "ivr_queue: % of a core per held call (at $q1)"
	row queue_held "ivr_queue: most held calls under 90 %, clean (of $QUEUE_STEPS)"
	row queue_est "ivr_queue: held calls at 90 % (estimate from the $q1 run)"
	row rss "ivr_queue: RSS per added held call, KiB (at $q1)"
	row queue_pps "RTP at $q1 held: packets/s per stream heard by sipp (50 = all)"
	row gap "RTP at $q1 held: max gap, ms"
	row mjit "RTP at $q1 held: mean jitter, ms"
	row xjit "RTP at $q1 held: max jitter, ms"
	row lost "RTP at $q1 held: lost packets"
fi
for n in $QUEUE_STEPS; do
	[[ $n == "$q1" ]] && continue
	for b in "${BUILDS[@]}"; do
		d=$OUT/queue-$n.$b
		[[ -f $d/summary.txt ]] || continue
		echo "ivr_queue at $n, $b: $(kv "$d" failed) failed, cpu $(kv "$d" server_cpu_steady_avg_pct) %, RTP max gap $(kv "$d" rtp_max_delta_ms_max) ms, mean/max jitter $(kv "$d" rtp_mean_jitter_ms_avg)/$(kv "$d" rtp_max_jitter_ms_max) ms, lost $(kv "$d" rtp_lost), tshark dropped $(kv "$d" tshark_dropped)"
	done
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)${q1:+; CPU $SIPP_CPU (sipp) busy at the $q1 plateau: $(for b in "${BUILDS[@]}"; do echo -n "$b $(kv "$OUT/queue-$q1.$b" "cpu${SIPP_CPU}_busy_steady_avg_pct") % "; done)}"
exit 0
}
