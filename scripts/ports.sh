# Sourced by scripts/bench.sh and scripts/bench-ivr.sh.

# free_block [LO HI]: the base of 4 consecutive ports (a multiple of 4) in
# LO-HI (default 14000-14999) that are free over UDP and TCP on 127.0.0.1 now, like
# internal/testports: base for sipp's -mp (it binds base+2 too), base+1 for
# a SIP socket, base+3 for a TCP one. Ports that are named before the
# process binds them stay out of the kernel's ephemeral range (32768-60999):
# there a socket bound to port 0 meanwhile (the load generator's RTP) could
# take them. A port held by a process still running is skipped.
free_block() { python3 - "${1:-14000}" "${2:-14999}" <<'PY'
import random, socket, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
bases = list(range(lo, hi - 2, 4))
random.shuffle(bases)
for base in bases:
    held = []
    try:
        for port in range(base, base + 4):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                held.append(s)
                s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        for s in held:
            s.close()
    print(base)
    break
else:
    raise SystemExit(f"no free block of 4 ports in {lo}-{hi}")
PY
}
