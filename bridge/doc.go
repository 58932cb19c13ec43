// Package bridge is Hotline's call plumbing, the B2BUA's part that knows
// nothing about queues or callbacks: placing an outbound leg (Dialer,
// SIPDialer), connecting two legs so that they hear each other and each
// other's DTMF (Connect), holding a leg with music and announcements
// (Hold), and the mechanics of an agent's blind transfer (a REFER accepted
// on a connected leg, its NOTIFYs, dialling the target while the other side
// is held). The ACD (package queue) and the callback service both build on
// it; it imports neither, nor anything that decides policy.
//
// What it does not decide: whether a URI may be dialled (the outbound
// policy, package outbound: a URI handed to a Dialer has passed it), where a
// transfer goes (the owner's Options.Refer), or what a leg's record says
// (the owner fills store.CallLeg from Connect's End and its own clock).
//
// The two sides of a Connect are named for their roles: a is the party
// being served (the caller, the customer called back), b the one serving
// them (an agent, a transfer target). b's REFER may move a elsewhere; a's
// never does.
package bridge
