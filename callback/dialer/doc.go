// Package dialer places a callback's call: it implements callback.Dialer
// with Hotline's SIP client, the outbound policy and the call plumbing of
// package bridge.
//
// One Dial is one attempt: the policy admits the number (or refuses it:
// refused for the number, not_placed for capacity), the INVITE goes out on
// the trunk the grant names with the attempt's own Call-ID and From tag
// (the attempt's interaction on the ticket is keyed on them), and once the
// customer answers they hear the greeting, "about your call at 14:05" and
// "press 1 to speak to an agent now". The confirm key is what tells a
// person from an answering machine; without it the call ends
// no_confirmation. On the key, a customer-first callback is handed to the
// Connector (the queue joins it at its original place and bridges it to
// the next agent); an agent-first one is bridged to the agent's leg the
// Agents seam gave, who heard a whisper while the customer was dialled.
//
// The package decides nothing about queues or retries: the scheduler
// (package callback) reads the Result.
package dialer
