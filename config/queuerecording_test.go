package config

import (
	"strings"
	"testing"
	"time"
)

func TestQueueRecordingOffByDefault(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range c.Queues {
		if q.Recording.Enabled {
			t.Errorf("queue %s: recording on by default", name)
		}
		if q.Recording.Channels != RecordingMixed || q.Recording.Retention != DefaultRecordingRetention || q.Recording.Announce != DefaultRecordingAnnounce {
			t.Errorf("queue %s: recording defaults %+v", name, q.Recording)
		}
	}
}

func TestQueueRecordingFromFile(t *testing.T) {
	path := writeConfig(t, `
queues:
  sales:
    recording:
      enabled: true
      announce: my-notice
      channels: split
      retention: 30d
  support:
    recording: {enabled: true, retention: 36h}
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Queues["sales"].Recording, (QueueRecording{Enabled: true, Announce: "my-notice", Channels: RecordingSplit, Retention: 30 * 24 * time.Hour}); got != want {
		t.Errorf("sales recording = %+v, want %+v", got, want)
	}
	if got, want := c.Queues["support"].Recording, (QueueRecording{Enabled: true, Announce: DefaultRecordingAnnounce, Channels: RecordingMixed, Retention: 36 * time.Hour}); got != want {
		t.Errorf("support recording = %+v, want %+v", got, want)
	}
}

func TestQueueRecordingErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`enabled: sometimes`, `line 5: recording.enabled: "sometimes" is not true or false`},
		{`channels: stereo`, `line 5: recording.channels: "stereo" is not mixed or split`},
		{`retention: forever`, `line 5: recording.retention: "forever" is not a number of days`},
		{`retention: 10m`, `line 5: recording.retention: 10m is not between 1h and 3650d`},
		{`retention: 99999d`, `line 5: recording.retention: 99999d is not between 1h and 3650d`},
		{`retention: -5d`, `line 5: recording.retention: -5d is not between`},
		{`enabeld: true`, `line 5: field enabeld not found in type config.QueueRecording`},
	} {
		path := writeConfig(t, "\nqueues:\n  sales:\n    recording:\n      "+tc.body+"\n")
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
	path := writeConfig(t, "\nqueues:\n  sales:\n    recording: yes\n")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "line 4: recording: want a mapping") {
		t.Errorf("recording: yes: error %v", err)
	}
}
