#!/usr/bin/env bash
# make bench: Go benchmarks, then the SIP call-path load benchmark.
#
#   BENCH_PKGS   packages for `go test -bench` (default ./...; "none" skips)
#   BENCH_LOAD   0 skips the load benchmark
#   CPS_STEPS    calls/s ramp (default "50 100 200 250 300"), CPS_SECS per step (10)
#   CONC_STEPS   held-call levels (default "500 1000 1500"), CONC_RATE calls/s to reach them (150)
#   PROF_CALLS   held calls for the goroutine/memory/pprof run on bench/profserver (1000; 0 skips)
#   DIGIT_CALLS, DIGIT_RATE  the digit-latency run (500 calls at 50/s)
#   SIPP         0 skips the sipp comparison
#   LOAD_BIN     the load generator to run (default: bin/hotline-load, built
#                from this tree), e.g. an older build to compare side by side
#   SERVER_BIN   the server to measure (default: bin/hotline, built from this
#                tree), e.g. an older build to compare side by side
#   RELAY        0 skips the bridged-call relay benchmark (bridge BenchmarkBridgeRelay)
#   RELAY_CALLS, RELAY_SECS  bridged calls (500 = 1,000 RTP streams each way) and seconds (20)
#   SSE          0 skips the event stream fan-out benchmark (app BenchmarkEventStreamFanout)
#   SSE_CLIENTS, SSE_RATES, SSE_SECS  open boards (50), events/s steps ("200 1000 2000 5000"), seconds a step (4)
#   IVR          0 skips the sipp IVR scenarios of issue 15 (scripts/bench-ivr.sh: this
#                tree against BENCH_BASE, default HEAD~1; BENCH_QUICK=1 for ~3 minutes)
#
# The server (bin/hotline serve) runs pinned to core 0 and the load
# generator (bin/hotline-load) to core 1, both on 127.0.0.1. Every run is
# bounded in calls and time; the server is stopped by PID on exit.
# docs/benchmarks.md ("Call path") records results and reads them.
# Exit status 1 only when a Go benchmark fails: failed calls in the load
# steps are results (printed, and the step does not count), not errors.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_PKGS=${BENCH_PKGS:-./...}
BENCH_LOAD=${BENCH_LOAD:-1}
CPS_STEPS=${CPS_STEPS:-"50 100 200 250 300"}
CPS_SECS=${CPS_SECS:-10}
CONC_STEPS=${CONC_STEPS:-"500 1000 1500"}
CONC_RATE=${CONC_RATE:-150}
DIGIT_CALLS=${DIGIT_CALLS:-500}
DIGIT_RATE=${DIGIT_RATE:-50}
SIPP=${SIPP:-1}
GO=${GO:-go}

if [[ $BENCH_PKGS != none ]]; then
	echo "== go test -bench ($BENCH_PKGS)"
	# shellcheck disable=SC2086
	if ! $GO test -run='^$' -bench=. -benchmem -timeout 30m $BENCH_PKGS; then
		GO_BENCH_FAILED=1
		echo "go test -bench FAILED (continuing with the load benchmark; make bench will exit 1)"
	fi
fi
GO_BENCH_FAILED=${GO_BENCH_FAILED:-0}

# --- bridged calls: relay delay on one core ---------------------------------
# The relay (the test binary: real media.Sessions joined by bridge.Connect) is
# pinned to core 0; it re-executes itself as the callers' and agents' phones
# pinned to core 1. docs/benchmarks.md ("Bridged calls") says what is measured.
RELAY=${RELAY:-1}
RELAY_CALLS=${RELAY_CALLS:-500}
RELAY_SECS=${RELAY_SECS:-20}
if [[ $RELAY != 0 ]]; then
	echo
	echo "== bridged calls: $RELAY_CALLS calls relayed on core 0, ${RELAY_SECS}s, endpoints on core 1; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	mkdir -p bin
	$GO test -c -o bin/bridge.test ./bridge
	relay_ep_cpu=1
	(($(nproc) < 2)) && relay_ep_cpu=0
	if ! HOTLINE_BENCH_RELAY=1 HOTLINE_RELAY_ENDPOINT_CPU=$relay_ep_cpu RELAY_CALLS=$RELAY_CALLS RELAY_SECS=$RELAY_SECS \
		timeout $((RELAY_SECS + 40)) taskset -c 0 ./bin/bridge.test -test.run='^$' -test.bench='^BenchmarkBridgeRelay$' \
		-test.benchtime=1x -test.timeout=$((RELAY_SECS + 30))s; then
		GO_BENCH_FAILED=1
		echo "bridged-call relay benchmark FAILED"
	fi
fi

# --- event stream fan-out: 50 open boards -----------------------------------
# The server (the test binary: the real App, HTTP and GET /api/v1/events) is
# pinned to core 0; it re-executes itself as the SSE clients pinned to core
# 1. docs/benchmarks.md ("Event stream fan-out") says what is measured.
SSE=${SSE:-1}
SSE_CLIENTS=${SSE_CLIENTS:-50}
SSE_RATES=${SSE_RATES:-"200 1000 2000 5000"}
SSE_SECS=${SSE_SECS:-4}
if [[ $SSE != 0 ]]; then
	echo
	echo "== event stream fan-out: $SSE_CLIENTS SSE clients, events/s $SSE_RATES, ${SSE_SECS}s each; server on core 0, clients on core 1; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	mkdir -p bin
	$GO test -c -o bin/app.test ./app
	sse_cli_cpu=1
	(($(nproc) < 2)) && sse_cli_cpu=0
	nsteps=$(wc -w <<<"$SSE_RATES")
	# (cd app: the test binary's configuration finds ../prompts as go test does)
	if ! (cd app && HOTLINE_BENCH_SSE=1 HOTLINE_SSE_CLIENT_CPU=$sse_cli_cpu SSE_CLIENTS=$SSE_CLIENTS SSE_RATES="$SSE_RATES" SSE_SECS=$SSE_SECS \
		timeout $((nsteps * (SSE_SECS + 15) + 30)) taskset -c 0 ../bin/app.test -test.run='^$' -test.bench='^BenchmarkEventStreamFanout$' \
		-test.benchtime=1x -test.timeout=$((nsteps * (SSE_SECS + 15) + 20))s); then
		GO_BENCH_FAILED=1
		echo "event stream fan-out benchmark FAILED"
	fi
fi

# --- the IVR scenarios of issue 15 with sipp, against the base build --------
# scripts/bench-ivr.sh: server on core 1, sipp on core 0, this tree's build
# and BENCH_BASE's alternating. docs/benchmarks.md ("IVR scenarios").
IVR=${IVR:-1}
if [[ $IVR != 0 ]]; then
	echo
	if ! ./scripts/bench-ivr.sh; then
		GO_BENCH_FAILED=1
		echo "IVR scenarios (scripts/bench-ivr.sh) FAILED"
	fi
fi
if [[ $BENCH_LOAD == 0 ]]; then exit "$GO_BENCH_FAILED"; fi

echo "== call path load benchmark"
SERVER_BIN=${SERVER_BIN:-}
if [[ -z $SERVER_BIN ]]; then
	$GO build -o bin/hotline ./cmd/hotline
	SERVER_BIN=./bin/hotline
fi
LOAD_BIN=${LOAD_BIN:-}
if [[ -z $LOAD_BIN ]]; then
	$GO build -o bin/hotline-load ./cmd/hotline-load
	LOAD_BIN=./bin/hotline-load
fi
NCPU=$(nproc)
SRV_CPU=0 LOAD_CPU=1
if ((NCPU < 2)); then LOAD_CPU=0; echo "warning: one CPU, server and load generator share it"; fi
TCK=$(getconf CLK_TCK)
PAGE=$(getconf PAGESIZE)

TMP=$(mktemp -d /tmp/hotline-bench.XXXXXX)
SRV_PID=""
SAMPLER_PID=""
cleanup() {
	[[ -n $SAMPLER_PID ]] && kill "$SAMPLER_PID" 2>/dev/null || true
	if [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; then
		kill "$SRV_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$SRV_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=scripts/ports.sh
. "$(dirname "$0")/ports.sh" # free_block

# start_server FLOWS_DIR [BINARY ARGS...]: a fresh server (fresh SQLite,
# fresh RSS baseline), default bin/hotline serve. GC traces go to its log.
start_server() {
	local flows=$1
	shift
	local cmd=("$@")
	((${#cmd[@]})) || cmd=("$SERVER_BIN" serve)
	local base
	base=$(free_block)
	SIP_PORT=$((base + 1)) HTTP_PORT=$((base + 3))
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
  port_min: 20000 # the default: below the ephemeral range, where the load generator's port-0 RTP sockets would take some
  port_max: 30000
  prompts: $PWD/prompts
  inactivity_timeout: 30s
http:
  addr: 127.0.0.1:$HTTP_PORT
flows:
  dir: $flows
  watch: false
database:
  url: sqlite:$TMP/db/hotline.db
  spool_dir: $TMP/db/spool
log:
  level: error
EOF
	GODEBUG=gctrace=1 taskset -c $SRV_CPU "${cmd[@]}" --config "$TMP/hotline.yaml" >"$TMP/server.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "server did not come up:"; cat "$TMP/server.log"; exit 1
}

stop_server() {
	kill "$SRV_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=""
}

# runq_ns: time the server's threads spent runnable but not running (waiting
# for the CPU: other processes on core 0), from /proc/PID/task/*/schedstat.
runq_ns() { cat /proc/"$SRV_PID"/task/*/schedstat 2>/dev/null | awk '{s+=$2} END{printf "%d\n", s}'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$SRV_PID/stat"; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$SRV_PID/status"; }
active_calls() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^hotline_calls_active /{print $2}'; }

# sampler: every second "elapsed_s active_calls rss_kib cpu_percent runq_ms" to $1.
start_sampler() {
	local out=$1
	(
		prev=$(cpu_ticks) t0=$(date +%s.%N) tp=$t0 rq=$(runq_ns)
		while kill -0 "$SRV_PID" 2>/dev/null; do
			sleep 1
			now=$(date +%s.%N) cur=$(cpu_ticks 2>/dev/null) || break
			a=$(active_calls || echo 0)
			rq1=$(runq_ns)
			awk -v t="$now" -v t0="$t0" -v tp="$tp" -v c="$cur" -v p="$prev" -v a="${a:-0}" -v r="$(rss_kib)" -v hz="$TCK" -v q="$((rq1 - rq))" \
				'BEGIN{printf "%.1f %d %d %.1f %.1f\n", t-t0, a, r, 100*(c-p)/hz/(t-tp), q/1e6}'
			prev=$cur tp=$now rq=$rq1
		done
	) >"$out" 2>/dev/null &
	SAMPLER_PID=$!
}
stop_sampler() { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; }

# gc_summary: GC cycles and the longest stop-the-world pause (gctrace).
gc_summary() {
	awk '/^gc [0-9]+ @/ { n++; split($5, p, "+"); stw = p[1] + p[3]; if (stw > m) m = stw }
		END { printf "server GC: %d cycles, longest stop-the-world %.2f ms\n", n, m }' "$TMP/server.log"
}

wait_idle() {
	for _ in $(seq 150); do
		[[ $(active_calls) == 0 ]] && return 0
		sleep 0.2
	done
	echo "warning: server still has $(active_calls) calls up"
}

# server_media: the server's own counters of finished calls (sent/received/lost
# RTP, late frames and catch-ups in its pacing).
server_media() {
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^hotline_rtp_(packets|pacing_events)_total/{printf "%s=%s ", $1, $2} END{print ""}' |
		sed 's/hotline_rtp_//g; s/_total{kind="\([a-z_-]*\)"}/_\1/g' | sed 's/^/server media counters: /'
}

# server_pkts: RTP packets sent+received by the server's finished calls.
server_pkts() {
	curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^hotline_rtp_packets_total\{kind="(sent|received)"\}/{s+=$2} END{printf "%d\n", s}'
}

load() { taskset -c $LOAD_CPU "$LOAD_BIN" "$@"; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server on CPU $SRV_CPU, load generator on CPU $LOAD_CPU; $(date -u +%FT%TZ)"

# --- 1. sustained calls/s with zero failures -------------------------------
echo
echo "== 1. calls/s ramp: ${CPS_SECS}s per step, 2 s holds, number 200 (prompt playing)"
start_server "$PWD/bench/flows"
best=0 best_any=0 clean=1
for r in $CPS_STEPS; do
	n=$((r * CPS_SECS))
	echo "-- $r calls/s, $n calls"
	c0=$(cpu_ticks) t0=$(date +%s.%N)
	set +e
	load --target "sip:200@127.0.0.1:$SIP_PORT" --rate "$r" --calls "$n" --hold 2s --min-packets 50 \
		--duration $((CPS_SECS + 20))s | tee "$TMP/cps.out"
	rc=${PIPESTATUS[0]}
	set -e
	wait_idle
	c1=$(cpu_ticks) t1=$(date +%s.%N)
	awk -v c="$c1" -v p="$c0" -v t="$t1" -v tp="$t0" -v hz="$TCK" -v n="$n" \
		'BEGIN{printf "server cpu during step: %.0f%% of one core; %.2f ms of server CPU per call (INVITE to BYE, 2 s of prompt)\n", 100*(c-p)/hz/(t-tp), 1000*(c-p)/hz/n}'
	if ((rc == 0)); then
		((clean)) && best=$r
		best_any=$r
	else
		clean=0
		echo "   step $r calls/s had failures (exit $rc)"
	fi
done
server_media
echo "RESULT calls/s sustained with zero failures: $best (this and every lower step clean; highest clean step: $best_any; steps: $CPS_STEPS)"
stop_server

# --- 2. concurrent held calls, each hearing its prompt ---------------------
echo
echo "== 2. held calls: $CONC_STEPS concurrent, added at $CONC_RATE/s, held 8 s at the peak, number 201 (continuous prompt)"
for n in $CONC_STEPS; do
	start_server "$PWD/bench/flows"
	sleep 1
	base_rss=$(rss_kib)
	hold=$((n / CONC_RATE + 8))
	echo "-- $n calls, hold ${hold}s, idle server RSS ${base_rss} KiB"
	start_sampler "$TMP/samples.$n"
	c0=$(cpu_ticks)
	set +e
	# a caller that hears less than 80% of its hold as RTP packets fails
	load --target "sip:201@127.0.0.1:$SIP_PORT" --rate "$CONC_RATE" --calls "$n" --hold "${hold}s" \
		--min-packets $((hold * 50 * 8 / 10)) --duration $((hold + n / CONC_RATE + 20))s
	rc=$?
	set -e
	stop_sampler
	awk -v base="$base_rss" -v n="$n" '
		{ if ($2 > peak) peak = $2; if ($3 > rss) rss = $3; s[NR]=$0; a[NR]=$2; c[NR]=$4; q[NR]=$5 }
		END {
			for (i = 1; i <= NR; i++) if (a[i] >= 0.95*peak && peak > 0) { sum += c[i]; rq += q[i]; k++; if (q[i] > rqmax) rqmax = q[i] }
			printf "server: peak active %d, peak RSS %d KiB (+%d KiB), %.1f KiB/call, cpu at plateau %.0f%% of one core\n",
				peak, rss, rss-base, peak ? (rss-base)/peak : 0, k ? sum/k : 0
			printf "server threads waiting for a CPU (run queue) at plateau: mean %.0f ms/s, max %.0f ms/s\n", k ? rq/k : 0, rqmax
		}' "$TMP/samples.$n"
	gc_summary
	echo "OS threads at end: $(awk '/^Threads:/{print $2}' /proc/$SRV_PID/status) (goroutines per call: step 2b)"
	wait_idle
	server_media
	awk -v c="$(cpu_ticks)" -v p="$c0" -v hz="$TCK" -v k="$(server_pkts)" 'BEGIN{
		us = 1e6*(c-p)/hz/k
		printf "server CPU per RTP packet handled (sent+received, SIP included): %.2f us; one core at this cost: about %d calls (100 packets/s each; estimate)\n", us, 1e6/us/100 }'
	echo "RESULT held $n: load generator exit $rc"
	stop_server
done

# --- 2b. goroutines per call and a CPU profile (bench/profserver) ----------
PROF_CALLS=${PROF_CALLS:-1000}
if [[ $PROF_CALLS != 0 ]]; then
	echo
	echo "== 2b. $PROF_CALLS held calls on bench/profserver (hotline serve + pprof): goroutines per call, CPU profile"
	$GO build -o bin/profserver ./bench/profserver
	PPROF_PORT=$(($(free_block) + 3))
	start_server "$PWD/bench/flows" ./bin/profserver --pprof "127.0.0.1:$PPROF_PORT"
	goroutines() { curl -sf "http://127.0.0.1:$PPROF_PORT/debug/pprof/goroutine?debug=1" | awk 'NR==1{print $4}'; }
	# memstats: "HeapInuse StackInuse" in bytes (runtime.MemStats via the heap profile)
	memstats() { curl -sf "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap?debug=1" |
		awk '/^# HeapInuse = /{h=$4} /^# Stack = /{s=$4} END{print h, s}'; }
	sleep 1
	g0=$(goroutines) m0=$(memstats)
	hold=$((PROF_CALLS / CONC_RATE + 15))
	load --target "sip:201@127.0.0.1:$SIP_PORT" --rate "$CONC_RATE" --calls "$PROF_CALLS" --hold "${hold}s" \
		--duration $((hold + PROF_CALLS / CONC_RATE + 20))s >"$TMP/prof.load" 2>&1 &
	LOAD_PID=$!
	for _ in $(seq 300); do
		a=$(active_calls || echo 0)
		((${a:-0} >= PROF_CALLS * 95 / 100)) && break
		sleep 0.2
	done
	a=$(active_calls) g1=$(goroutines) m1=$(memstats)
	awk -v a="$a" -v g0="$g0" -v g1="$g1" 'BEGIN{printf "goroutines: idle %d, with %d calls up %d = %.2f per call\n", g0, a, g1, a ? (g1-g0)/a : 0}'
	awk -v a="$a" -v m0="$m0" -v m1="$m1" 'BEGIN{split(m0, x, " "); split(m1, y, " ")
		printf "Go memory per call: heap in use %.1f KiB, goroutine stacks %.1f KiB (heap %d -> %d KiB, stacks %d -> %d KiB)\n",
			(y[1]-x[1])/1024/a, (y[2]-x[2])/1024/a, x[1]/1024, y[1]/1024, x[2]/1024, y[2]/1024}'
	curl -sf -o "$TMP/cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=8"
	wait "$LOAD_PID" || echo "profiling run: load generator exit $? (see below)"
	grep -E '^(calls|rtp gap)' "$TMP/prof.load"
	echo "CPU profile of the server, 8 s with $a calls up (top 25 by cumulative, then flat):"
	$GO tool pprof -top -cum -nodecount=25 bin/profserver "$TMP/cpu.pprof" 2>/dev/null | sed -n '1,35p'
	$GO tool pprof -top -nodecount=20 bin/profserver "$TMP/cpu.pprof" 2>/dev/null | sed -n '5,30p'
	stop_server
fi

# --- 3. digit to next prompt ------------------------------------------------
echo
echo "== 3. digit-to-next-prompt: $DIGIT_CALLS calls at $DIGIT_RATE/s, digit 1 at 9 s (menu waiting, server silent), server hangs up after the next prompt"
start_server "$PWD/bench/flows"
set +e
load --target "sip:200@127.0.0.1:$SIP_PORT" --rate "$DIGIT_RATE" --calls "$DIGIT_CALLS" --hold 20s --digit 1@9s \
	--duration $((DIGIT_CALLS / DIGIT_RATE + 30))s
echo "RESULT digit run: load generator exit $?"
set -e
stop_server

# --- 4. sipp (independent client) for comparison ----------------------------
if [[ $SIPP != 0 ]] && command -v sipp >/dev/null; then
	echo
	echo "== 4. sipp built-in uac (sipp sends no RTP; the server still plays its prompt; BYE after 2 s): ramp like step 1"
	start_server "$PWD/bench/flows"
	for r in $CPS_STEPS; do
		n=$((r * CPS_SECS))
		c0=$(cpu_ticks) t0=$(date +%s.%N)
		set +e
		sipp_base=$(free_block)
		(cd "$TMP" && timeout $((CPS_SECS + 30)) taskset -c $LOAD_CPU sipp -sn uac -s 200 -r "$r" -m "$n" -d 2000 \
			-i 127.0.0.1 -p $((sipp_base + 1)) -mi 127.0.0.1 -mp "$sipp_base" -nostdin -timeout $((CPS_SECS + 20))s -timeout_error \
			-trace_stat -stf "$TMP/sipp_$r.csv" -fd 1 "127.0.0.1:$SIP_PORT" >/dev/null 2>&1)
		rc=$?
		set -e
		wait_idle
		c1=$(cpu_ticks) t1=$(date +%s.%N)
		ok=$(tail -1 "$TMP/sipp_$r.csv" 2>/dev/null | awk -F';' '{print $16}')
		fail=$(tail -1 "$TMP/sipp_$r.csv" 2>/dev/null | awk -F';' '{print $18}')
		awk -v c="$c1" -v p="$c0" -v t="$t1" -v tp="$t0" -v hz="$TCK" -v r="$r" -v ok="$ok" -v f="$fail" -v rc="$rc" \
			'BEGIN{printf "sipp %d calls/s: successful %s failed %s exit %d; server cpu %.0f%% of one core, %.2f ms of server CPU per call\n", r, ok, f, rc, 100*(c-p)/hz/(t-tp), (ok+f) ? 1000*(c-p)/hz/(ok+f) : 0}'
	done
	stop_server
fi

if ((GO_BENCH_FAILED)); then
	echo "go test -bench failed (see above)"
	exit 1
fi
