package app

import (
	"time"

	"github.com/hotline-dev/hotline/calllog"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// markAnswered writes the call's durable "answered" mark (ServeCall runs
// once the call is ACKed and its media started) with what is known now, so
// that a crash before the call ends still leaves it a record: failed, hang-up
// cause server-restart. The record logged when the call ends closes it.
func (a *App) markAnswered(c *sip.Call, flow *flows.Flow) *calllog.Mark {
	m, err := a.calls.Begin(store.CallRecord{
		StartedAt: time.Now(), Direction: store.DirectionInbound,
		Voice: store.VoiceDetails{CallID: c.ID(), FromTag: c.FromTag(), CallerNumber: c.Caller(), CalledNumber: c.Called(),
			FlowName: flow.Name, FlowVersion: flow.Version},
	})
	if err != nil {
		c.Logger().Error("call not marked answered: a crash before it ends would lose its record", "err", err)
	}
	return m
}
