package sip

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/hotline-dev/hotline/media"
)

// Direction attributes (RFC 3264 §5.1, §6.1).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

const (
	defaultPtime = 20 * time.Millisecond
	maxSDPSize   = 16 << 10
	telephoneEvt = "telephone-event"
)

// Negotiated is the outcome of one offer/answer exchange for the audio stream.
type Negotiated struct {
	Remote      netip.AddrPort // where to send RTP (c= and m= port)
	Codec       media.Codec
	PayloadType uint8
	DTMFPT      uint8 // telephone-event payload type; 0 = none offered
	Ptime       time.Duration
	Direction   string // the remote side's direction attribute
	Hold        bool   // remote put us on hold (sendonly/inactive or c=0.0.0.0)
	// Signal is the IP the SDP came from (the SIP message's source), set
	// by the user agent, not by parsing: media.Remote.Signal.
	Signal netip.Addr
	mline  int // index of the chosen m= line
	lines  []rejected
}

// rejected is an m= line we do not take; the answer keeps it at port 0 (RFC 3264 §6).
type rejected struct {
	media, proto, format string
}

// AnswerDirection is the direction we answer with (RFC 3264 §6.1).
func (n Negotiated) AnswerDirection() string {
	switch n.Direction {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	if n.Hold { // c=0.0.0.0 with sendrecv: RFC 2543 hold
		return RecvOnly
	}
	return SendRecv
}

// NegotiateOffer picks the first codec in the offer's order that we support
// (RFC 3264 §6.1: the answerer SHOULD honour the offerer's preference).
func NegotiateOffer(body []byte, supported []media.Codec) (Negotiated, error) {
	return negotiate(body, supported, true)
}

// ParseAnswer reads the answer to our offer and checks it chose a codec we offered.
func ParseAnswer(body []byte, offered []media.Codec) (Negotiated, error) {
	return negotiate(body, offered, false)
}

func negotiate(body []byte, supported []media.Codec, isOffer bool) (Negotiated, error) {
	var n Negotiated
	if len(body) == 0 || len(body) > maxSDPSize {
		return n, fmt.Errorf("%w: size %d", ErrBadSDP, len(body))
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return n, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if len(sd.MediaDescriptions) > 16 {
		return n, fmt.Errorf("%w: %d media lines", ErrBadSDP, len(sd.MediaDescriptions))
	}
	found, audio := false, false
	var noCodec error
	for i, md := range sd.MediaDescriptions {
		name := md.MediaName
		first := ""
		if len(name.Formats) > 0 {
			first = name.Formats[0]
		}
		rej := rejected{media: name.Media, proto: strings.Join(name.Protos, "/"), format: first}
		if found || name.Media != "audio" || name.Port.Value == 0 || rej.proto != "RTP/AVP" {
			n.lines = append(n.lines, rej)
			continue
		}
		audio = true
		got, err := pickCodec(md, supported)
		if err != nil {
			noCodec = err
			n.lines = append(n.lines, rej)
			continue
		}
		addr, err := connAddr(&sd, md)
		if err != nil {
			return Negotiated{}, err
		}
		if name.Port.Value < 0 || name.Port.Value > 65535 {
			return Negotiated{}, fmt.Errorf("%w: port %d", ErrBadSDP, name.Port.Value)
		}
		got.Remote = netip.AddrPortFrom(addr, uint16(name.Port.Value))
		got.Ptime = ptime(&sd, md)
		got.Direction = direction(&sd, md)
		got.Hold = got.Direction == SendOnly || got.Direction == Inactive || addr.IsUnspecified()
		got.mline = i
		got.lines = n.lines
		n = got
		n.lines = append(n.lines, rejected{})
		found = true
	}
	if !found {
		if audio && noCodec != nil {
			return Negotiated{}, noCodec
		}
		if isOffer {
			return Negotiated{}, fmt.Errorf("%w: no RTP/AVP audio stream", ErrNoCommonCodec)
		}
		return Negotiated{}, fmt.Errorf("%w: no RTP/AVP audio stream", ErrBadSDP)
	}
	return n, nil
}

// pickCodec walks the m= formats in order, reading rtpmap for dynamic types.
func pickCodec(md *sdp.MediaDescription, supported []media.Codec) (Negotiated, error) {
	maps := map[string]string{} // pt -> "name/rate"
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, rest, ok := strings.Cut(a.Value, " ")
		if ok {
			maps[pt] = strings.ToLower(strings.TrimSpace(rest))
		}
	}
	var n Negotiated
	chosen := false
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			continue
		}
		name := maps[f]
		if !chosen {
			if c, ok := codecFor(uint8(pt), name); ok && hasCodec(supported, c) {
				n.Codec, n.PayloadType, chosen = c, uint8(pt), true
				continue
			}
		}
		// RFC 4733 §7.1.1: telephone-event at the audio clock rate, any dynamic PT.
		if n.DTMFPT == 0 && pt >= 96 && strings.HasPrefix(name, telephoneEvt+"/8000") {
			n.DTMFPT = uint8(pt)
		}
	}
	if !chosen {
		return n, fmt.Errorf("%w: offered %s", ErrNoCommonCodec, strings.Join(md.MediaName.Formats, " "))
	}
	return n, nil
}

func codecFor(pt uint8, rtpmap string) (media.Codec, bool) {
	if rtpmap != "" {
		switch {
		case strings.HasPrefix(rtpmap, "pcmu/8000"):
			return media.PCMU, true
		case strings.HasPrefix(rtpmap, "pcma/8000"):
			return media.PCMA, true
		}
		return 0, false
	}
	switch pt { // static payload types, RFC 3551 §6
	case 0:
		return media.PCMU, true
	case 8:
		return media.PCMA, true
	}
	return 0, false
}

func hasCodec(list []media.Codec, c media.Codec) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// connAddr takes the media-level c= over the session-level one (RFC 4566 §5.7).
func connAddr(sd *sdp.SessionDescription, md *sdp.MediaDescription) (netip.Addr, error) {
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return netip.Addr{}, fmt.Errorf("%w: no c= line", ErrBadSDP)
	}
	a, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: c= address %q", ErrBadSDP, clean(ci.Address.Address))
	}
	return a.Unmap(), nil
}

// ptime reads a=ptime (RFC 4566 §6), rounded to 10..60 ms in steps of 10.
func ptime(sd *sdp.SessionDescription, md *sdp.MediaDescription) time.Duration {
	v, ok := md.Attribute("ptime")
	if !ok {
		v, ok = sd.Attribute("ptime")
	}
	if !ok {
		return defaultPtime
	}
	ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || ms <= 0 {
		return defaultPtime
	}
	r := int(ms+5) / 10 * 10
	r = min(max(r, 10), 60)
	return time.Duration(r) * time.Millisecond
}

func direction(sd *sdp.SessionDescription, md *sdp.MediaDescription) string {
	for _, d := range []string{SendRecv, SendOnly, RecvOnly, Inactive} {
		if _, ok := md.Attribute(d); ok {
			return d
		}
	}
	for _, d := range []string{SendRecv, SendOnly, RecvOnly, Inactive} {
		if _, ok := sd.Attribute(d); ok {
			return d
		}
	}
	return SendRecv
}

// LocalSDP describes our side when building an offer or answer.
type LocalSDP struct {
	Addr      netip.AddrPort
	SessionID uint64
	Version   uint64 // o= version, bumped on every change (RFC 3264 §8)
}

// BuildAnswer writes the answer for n (RFC 3264 §6): same number of m= lines,
// rejected ones at port 0, our codec plus telephone-event if offered.
func BuildAnswer(l LocalSDP, n Negotiated) ([]byte, error) {
	sd := base(l)
	for i, r := range n.lines {
		if i == n.mline {
			fmts := []string{strconv.Itoa(int(n.PayloadType))}
			attrs := []sdp.Attribute{rtpmap(n.PayloadType, n.Codec.String())}
			if n.DTMFPT != 0 {
				fmts = append(fmts, strconv.Itoa(int(n.DTMFPT)))
				attrs = append(attrs, telephoneEventAttrs(n.DTMFPT)...)
			}
			attrs = append(attrs, sdp.NewAttribute("ptime", strconv.Itoa(int(n.Ptime/time.Millisecond))),
				sdp.NewPropertyAttribute(n.AnswerDirection()))
			sd.MediaDescriptions = append(sd.MediaDescriptions, audioMD(l.Addr.Port(), fmts, attrs))
			continue
		}
		proto := strings.Split(r.proto, "/")
		if r.proto == "" {
			proto = []string{"RTP", "AVP"}
		}
		f := r.format
		if f == "" {
			f = "0"
		}
		sd.MediaDescriptions = append(sd.MediaDescriptions, &sdp.MediaDescription{
			MediaName: sdp.MediaName{Media: r.media, Port: sdp.RangedPort{Value: 0}, Protos: proto, Formats: []string{f}},
		})
	}
	return sd.Marshal()
}

// BuildOffer writes our offer: codecs in preference order plus
// telephone-event/8000 on PT 101 (RFC 4733 §7.1.1).
func BuildOffer(l LocalSDP, codecs []media.Codec, ptime time.Duration, dir string) ([]byte, error) {
	if len(codecs) == 0 {
		codecs = []media.Codec{media.PCMU, media.PCMA}
	}
	if ptime == 0 {
		ptime = defaultPtime
	}
	if dir == "" {
		dir = SendRecv
	}
	sd := base(l)
	var fmts []string
	var attrs []sdp.Attribute
	for _, c := range codecs {
		fmts = append(fmts, strconv.Itoa(int(c)))
		attrs = append(attrs, rtpmap(uint8(c), c.String()))
	}
	fmts = append(fmts, "101")
	attrs = append(attrs, telephoneEventAttrs(101)...)
	attrs = append(attrs, sdp.NewAttribute("ptime", strconv.Itoa(int(ptime/time.Millisecond))),
		sdp.NewPropertyAttribute(dir))
	sd.MediaDescriptions = append(sd.MediaDescriptions, audioMD(l.Addr.Port(), fmts, attrs))
	return sd.Marshal()
}

// audioMD fills Formats directly and never calls WithCodec, which would
// append the payload type a second time (pion/sdp trap).
func audioMD(port uint16, fmts []string, attrs []sdp.Attribute) *sdp.MediaDescription {
	return &sdp.MediaDescription{
		MediaName:  sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(port)}, Protos: []string{"RTP", "AVP"}, Formats: fmts},
		Attributes: attrs,
	}
}

// telephoneEventAttrs maps pt to telephone-event/8000 with events 0-16, the
// DTMF keys (RFC 4733 §7.1.1).
func telephoneEventAttrs(pt uint8) []sdp.Attribute {
	return []sdp.Attribute{rtpmap(pt, telephoneEvt), sdp.NewAttribute("fmtp", strconv.Itoa(int(pt))+" 0-16")}
}

func rtpmap(pt uint8, name string) sdp.Attribute {
	return sdp.NewAttribute("rtpmap", strconv.Itoa(int(pt))+" "+name+"/8000")
}

func base(l LocalSDP) *sdp.SessionDescription {
	ip := l.Addr.Addr()
	at := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		at = "IP6"
	}
	addr := ip.Unmap().String()
	return &sdp.SessionDescription{
		Origin: sdp.Origin{Username: "hotline", SessionID: l.SessionID, SessionVersion: l.Version,
			NetworkType: "IN", AddressType: at, UnicastAddress: addr},
		SessionName:           "hotline",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: at, Address: &sdp.Address{Address: addr}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
	}
}
