#!/usr/bin/env python3
"""Writes the RTP pcap files that the sipp scenarios replay (play_pcap_audio).

One RTP stream (one SSRC, continuous sequence numbers and timestamps), PCMU
(payload type 0) in 20 ms frames, and RFC 4733 telephone-events (payload type
101, as offered in the scenarios' SDP) at the requested times. As a real phone
does, audio is suppressed while a key is down; each event is a start packet with
the marker bit, an update every 20 ms, and three end packets (E bit) sharing the
event's timestamp (RFC 4733 §2.5.1.4). The audio is quiet deterministic noise
(about -36 dBFS): it keeps the server's RTP inactivity timer happy, is not
silence, and has no tones that an in-band detector could take for a digit.

Our own generator, so the test data carries no third-party capture.
Regenerate the committed files with:  python3 gen_pcap.py --all

Usage: gen_pcap.py OUT.pcap --duration 25 --digits "1@8,3@14" [--digit-ms 160]
"""
import argparse
import random
import struct
import sys

PT_PCMU = 0
PT_EVENT = 101
FRAME = 160  # samples per 20 ms at 8 kHz
EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}


def ulaw(sample):
    """G.711 mu-law encode one 16-bit linear sample (ITU-T G.711)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    if sample < 0:
        sample = -sample
    sample = min(sample, clip) + bias
    exponent, mask = 7, 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ip_checksum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(rtp):
    """Ethernet + IPv4 + UDP around one RTP packet (ports are replaced by sipp)."""
    udp = struct.pack("!HHHH", 6000, 20000, 8 + len(rtp), 0) + rtp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    eth = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + udp


def parse_digits(spec):
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, _, at = part.partition("@")
        if key.upper() not in EVENTS or not at:
            sys.exit(f"gen_pcap: bad digit {part!r}; want KEY@SECONDS, e.g. 1@8")
        out.append((float(at), key.upper()))
    return sorted(out)


def generate(path, duration, digits, digit_ms=160, ssrc=0x484F544C, seed=1):
    rng = random.Random(seed)
    seq, ts = 1000, 16000
    packets = []  # (time in seconds, rtp bytes)
    t_frames = int(duration * 50)
    # frames covered by each digit: [start_frame, end_frame)
    spans = [(round(at * 50), round(at * 50) + max(1, digit_ms // 20), key) for at, key in digits]
    first_audio = True
    i = 0
    while i < t_frames:
        span = next((s for s in spans if s[0] == i), None)
        if span:
            start, end, key = span
            ev_ts = ts
            n = end - start
            for k in range(n):
                dur = (k + 1) * FRAME
                last = k == n - 1
                reps = 3 if last else 1
                for _ in range(reps):
                    flags = (0x80 if last else 0) | 10  # E bit, volume -10 dBm0
                    hdr = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | PT_EVENT, seq & 0xFFFF, ev_ts, ssrc)
                    packets.append(((start + k) * 0.02, hdr + struct.pack("!BBH", EVENTS[key], flags, dur)))
                    seq += 1
            ts += n * FRAME
            i = end
            first_audio = True  # marker on the first audio frame after an event (talkspurt)
            continue
        payload = bytes(ulaw(int(rng.gauss(0, 500))) for _ in range(FRAME))
        hdr = struct.pack("!BBHII", 0x80, (0x80 if first_audio else 0) | PT_PCMU, seq & 0xFFFF, ts, ssrc)
        packets.append((i * 0.02, hdr + payload))
        first_audio = False
        seq += 1
        ts += FRAME
        i += 1
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # pcap, Ethernet
        base = 1_700_000_000
        for t, rtp in packets:
            data = frame(rtp)
            sec, usec = base + int(t), int(round((t - int(t)) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    return len(packets)


# The files the scenarios name. Digit times suit testdata/sipp/flows/e2e.yaml
# (and the language + main menu of etc/flows/support.yaml): see README.md.
ALL = {
    "rfc2833_1_3.pcap": (25, "1@8,3@14"),
    "rfc2833_1_at_3.pcap": (8, "1@3"),  # uas_callback.xml: the customer presses 1 after the greeting
    "rfc2833_1_at_4_20s.pcap": (20, "1@4"),  # uas_callback_customer.xml: 1 during the greeting, then talk
    "pcmu_35s.pcap": (35, ""),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--duration", type=float, default=25)
    ap.add_argument("--digits", default="")
    ap.add_argument("--digit-ms", type=int, default=160)
    ap.add_argument("--all", action="store_true", help="regenerate the committed files next to this script")
    a = ap.parse_args()
    if a.all:
        import os
        here = os.path.dirname(os.path.abspath(__file__))
        for name, (dur, digits) in ALL.items():
            n = generate(os.path.join(here, name), dur, parse_digits(digits))
            print(f"{name}: {n} packets, {dur}s, digits {digits or 'none'}")
        return
    if not a.out:
        ap.error("OUT.pcap or --all")
    n = generate(a.out, a.duration, parse_digits(a.digits), a.digit_ms)
    print(f"{a.out}: {n} packets")


if __name__ == "__main__":
    main()
