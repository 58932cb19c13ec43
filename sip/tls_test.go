package sip

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and returns the file paths
// and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hotline-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// readSIP reads one message from a stream transport (RFC 3261 §18.3:
// Content-Length frames the body).
func readSIP(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var head strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read SIP over TLS: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return head.String() + string(body)
}

// A call over TLS with the configured certificate: OPTIONS, INVITE answered
// with SDP, ACK, BYE from the caller.
func TestTLSCall(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	h := newWaitHandler()
	r := newRig(t, h, func(c *ServerConfig) { c.TLS, c.TLSCert, c.TLSKey = "127.0.0.1:0", certFile, keyFile })
	addr, ok := r.srv.Addrs()["tls"]
	if !ok {
		t.Fatalf("no tls listener in %v", r.srv.Addrs())
	}
	conn, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake with the configured certificate: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	local := conn.LocalAddr().String()
	send := func(msg string) {
		t.Helper()
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
	}
	common := func(method string, cseq int, branch, toTag string) string {
		to := "<sip:100@" + addr.String() + ">"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return fmt.Sprintf("%s sip:100@%s;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bK%s\r\n"+
			"From: <sip:0912345678@127.0.0.1>;tag=tlscaller\r\nTo: %s\r\nCall-ID: tls-call-1\r\nCSeq: %d %s\r\n"+
			"Contact: <sip:0912345678@%s;transport=tls>\r\nMax-Forwards: 70\r\n", method, addr, local, branch, to, cseq, method, local)
	}

	send(common("OPTIONS", 1, "opt1", "") + "Content-Length: 0\r\n\r\n")
	if res := readSIP(t, rd); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TLS: %q", firstLine(res))
	}

	rtp, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer rtp.Close()
	port := rtp.LocalAddr().(*net.UDPAddr).Port
	sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n", port)
	send(common("INVITE", 2, "inv1", "") + "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp)
	var ok200 string
	for ok200 == "" {
		res := readSIP(t, rd)
		switch {
		case strings.HasPrefix(res, "SIP/2.0 1"):
		case strings.HasPrefix(res, "SIP/2.0 200"):
			ok200 = res
		default:
			t.Fatalf("INVITE over TLS: %q", firstLine(res))
		}
	}
	if !strings.Contains(ok200, "m=audio ") || !strings.Contains(ok200, "RTP/AVP 0") {
		t.Fatalf("200 has no PCMU answer:\n%s", ok200)
	}
	toTag := ""
	for _, l := range strings.Split(ok200, "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "to:") {
			_, toTag, _ = strings.Cut(l, "tag=")
			toTag, _, _ = strings.Cut(toTag, ";")
		}
	}
	send(common("ACK", 2, "ack1", toTag) + "Content-Length: 0\r\n\r\n")
	select {
	case <-h.calls:
	case <-time.After(5 * time.Second):
		t.Fatal("handler not started after ACK over TLS")
	}
	send(common("BYE", 3, "bye1", toTag) + "Content-Length: 0\r\n\r\n")
	for {
		res := readSIP(t, rd)
		if strings.Contains(res, "CSeq: 3 BYE") {
			if !strings.HasPrefix(res, "SIP/2.0 200") {
				t.Fatalf("BYE over TLS: %q", firstLine(res))
			}
			break
		}
	}
	r.waitEvent("call.ended")

}
