package queue

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/say"
)

// promptTexts reads prompts/prompts.txt: what a caller hears is the
// prompts' texts in order, so the announcement is checked word by word.
func promptTexts(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open("../prompts/prompts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 || strings.HasPrefix(parts[0], "#") {
			continue
		}
		if out[parts[0]] == nil {
			out[parts[0]] = map[string]string{}
		}
		out[parts[0]][parts[1]] = parts[2]
	}
	return out
}

func TestAnnouncement(t *testing.T) {
	tx := promptTexts(t)
	both := config.Queue{Announce: "queue-announce", AnnouncePosition: true, AnnounceWait: true}
	tests := []struct {
		name   string
		qc     config.Queue
		pos    *Position
		en, vi string
		th     string // Thai writes no spaces between words
	}{
		{"position and wait", both, &Position{Position: 14, EWT: 6*time.Minute + 10*time.Second, Known: true},
			"You are caller number fourteen The estimated waiting time is about six minutes",
			"Quý khách là người gọi số mười bốn Thời gian chờ dự kiến là khoảng sáu phút",
			"ท่านเป็นผู้โทรลำดับที่สิบสี่ระยะเวลารอสายประมาณหกนาที"},
		{"twenty one, about one minute", both, &Position{Position: 21, EWT: 20 * time.Second, Known: true},
			"You are caller number twenty one The estimated waiting time is about one minute",
			"Quý khách là người gọi số hai mươi mốt Thời gian chờ dự kiến là khoảng một phút",
			"ท่านเป็นผู้โทรลำดับที่ยี่สิบเอ็ดระยะเวลารอสายประมาณหนึ่งนาที"},
		{"wait unknown", both, &Position{Position: 105},
			"You are caller number one hundred and five",
			"Quý khách là người gọi số một trăm linh năm",
			"ท่านเป็นผู้โทรลำดับที่หนึ่งร้อยห้า"},
		{"position off", config.Queue{Announce: "queue-announce", AnnounceWait: true}, &Position{Position: 3, EWT: 25 * time.Minute, Known: true},
			"The estimated waiting time is about twenty five minutes",
			"Thời gian chờ dự kiến là khoảng hai mươi lăm phút",
			"ระยะเวลารอสายประมาณยี่สิบห้านาที"},
		{"place unknown", both, nil, "", "", ""},
	}
	for _, tc := range tests {
		for lang, want := range map[string]string{"en": tc.en, "vi": tc.vi, "th": tc.th} {
			names := Announcement(lang, tc.qc, tc.pos)
			if names[0] != "queue-announce" {
				t.Fatalf("%s %s: starts with %q", tc.name, lang, names[0])
			}
			got := say.Join(lang, names[1:], func(n string) string {
				w, ok := tx[lang][n]
				if !ok {
					t.Fatalf("%s %s: prompt %q not in prompts.txt", tc.name, lang, n)
				}
				return w
			})
			if got != want {
				t.Errorf("%s %s:\n got %q\nwant %q", tc.name, lang, got, want)
			}
		}
	}
}
