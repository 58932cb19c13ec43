#!/usr/bin/env python3
"""A throwaway SIP UAS that checks the sipp scenarios themselves (not Hotline).

Used by selfcheck.sh after editing a scenario: answers one call on a random
UDP port, records what the scenario sent (branches, ACK/INFO/BYE, RTP payload
types and RFC 4733 end events) and prints it as JSON.

  fake_uas.py MODE    MODE: normal (never hangs up) | cancel (180, waits for
                      CANCEL) | bye:SECONDS (sends BYE that long after the ACK)
                      | no-te (answer without telephone-event, normal otherwise)
"""
import socket, sys, re, threading, time, json, random
mode = sys.argv[1]
no_te = mode == 'no-te'
sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sip.bind(('127.0.0.1', 0))
rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rtp.bind(('127.0.0.1', 0))
print('PORT', sip.getsockname()[1], flush=True)
res = {'pts': {}, 'events': [], 'info': [], 'log': []}
def hdr(msg, name):
    m = re.search(r'^' + name + r':\s*(.*)$', msg, re.M | re.I); return m.group(1).strip() if m else None
def branch(msg): return re.search(r'branch=([^;\s]+)', hdr(msg, 'Via')).group(1)
def resp(req, code, text, totag=None, body='', extra=''):
    to = hdr(req, 'To')
    if totag and 'tag=' not in to: to += ';tag=' + totag
    lines = ['SIP/2.0 %d %s' % (code, text)]
    lines += ['Via: ' + v for v in re.findall(r'^Via:\s*(.*)$', req, re.M)]
    lines += ['From: ' + hdr(req, 'From'), 'To: ' + to, 'Call-ID: ' + hdr(req, 'Call-ID'), 'CSeq: ' + hdr(req, 'CSeq'),
              'Contact: <sip:hotline@127.0.0.1:%d>' % sip.getsockname()[1]]
    if extra: lines.append(extra)
    lines.append('Content-Length: %d' % len(body.encode()))
    return ('\r\n'.join(lines) + '\r\n\r\n' + body).encode()
def rtp_reader():
    rtp.settimeout(1)
    while True:
        try: d, a = rtp.recvfrom(2048)
        except socket.timeout: continue
        except OSError: return
        pt = d[1] & 127; res['pts'][pt] = res['pts'].get(pt, 0) + 1
        if pt == 101 and d[13] & 0x80: res['events'].append((d[12], int.from_bytes(d[4:8], 'big')))
threading.Thread(target=rtp_reader, daemon=True).start()
tag = 'uas%d' % random.randint(1, 1 << 30); inv = None; peer = None; t_end = time.time() + 70
sip.settimeout(0.5)
bye_at = float(mode.split(':')[1]) if mode.startswith('bye') else None; acked_at = None; bye_sent = False
while time.time() < t_end:
    if bye_at and acked_at and not bye_sent and time.time() > acked_at + bye_at:
        contact = re.search(r'<sip:([^>;]+)', hdr(inv, 'Contact')).group(1)
        b = '\r\n'.join(['BYE sip:%s SIP/2.0' % contact, 'Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%d' % (sip.getsockname()[1], random.randint(1, 1 << 30)),
            'From: ' + hdr(inv, 'To') + ';tag=' + tag, 'To: ' + hdr(inv, 'From'), 'Call-ID: ' + hdr(inv, 'Call-ID'), 'CSeq: 1 BYE', 'Max-Forwards: 70', 'Content-Length: 0', '', ''])
        sip.sendto(b.encode(), peer); bye_sent = True; res['log'].append('sent BYE')
    try: d, a = sip.recvfrom(65535)
    except socket.timeout: continue
    msg = d.decode(); first = msg.split('\r\n')[0]; res['log'].append(first); peer = a
    if first.startswith('INVITE'):
        if inv and branch(msg) == branch(inv): continue
        inv = msg; res['invite_branch'] = branch(msg)
        sip.sendto(resp(msg, 100, 'Trying'), a); sip.sendto(resp(msg, 180, 'Ringing', tag), a)
        if mode != 'cancel':
            res['offer_port'] = int(re.search(r'm=audio (\d+)', msg).group(1))
            sdp = ('v=0\r\no=hotline 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0' + ('' if no_te else ' 101') + '\r\na=rtpmap:0 PCMU/8000\r\n' + ('' if no_te else 'a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n') + 'a=ptime:20\r\na=sendrecv\r\n') % rtp.getsockname()[1]
            sip.sendto(resp(msg, 200, 'OK', tag, sdp, 'Content-Type: application/sdp'), a)
    elif first.startswith('CANCEL'):
        res['cancel_branch'] = branch(msg)
        sip.sendto(resp(msg, 200, 'OK', tag), a); sip.sendto(resp(inv, 487, 'Request Terminated', tag), a)
    elif first.startswith('ACK'):
        res['ack_branch'] = branch(msg); res['ack_ruri'] = first; res['ack_to'] = hdr(msg, 'To'); acked_at = acked_at or time.time()
        if mode == 'cancel': break
    elif first.startswith('INFO'):
        res['info'].append((hdr(msg, 'Content-Type'), msg.split('\r\n\r\n', 1)[1], hdr(msg, 'To'), first)); sip.sendto(resp(msg, 200, 'OK'), a)
    elif first.startswith('BYE'):
        sip.sendto(resp(msg, 200, 'OK'), a); time.sleep(0.5); break
    elif first.startswith('SIP/2.0 200') and 'BYE' in hdr(msg, 'CSeq'):
        time.sleep(1); break
res['t'] = round(time.time() - (acked_at or time.time()), 1)
print(json.dumps(res), flush=True)
