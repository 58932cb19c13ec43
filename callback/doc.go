// Package callback is Hotline's callback service: a caller who asks to be
// called back keeps their place in the queue (their original join time and
// tier), and Hotline calls them when that place comes up, inside the
// queue's business hours, with retries, until an expiry.
//
// The Scheduler is the state machine. Its durable state is the store's
// callbacks tables (store.Callbacks, migration 0003): every change is a
// conditional update in one transaction with its attempt row and its
// interaction on the ticket, and an attempt is claimed (committed) before
// the call is placed, so a restart, a kill -9 or a database outage loses
// no callback and dials none twice. In memory it keeps the open callbacks
// of each queue in order and a timer heap over their times (when they are
// due, when they expire, when a calendar closes); nothing polls.
//
// Two seams connect it to the rest of Hotline (docs/callbacks.md):
//
//   - ACD (the queue): the scheduler Offers each callback that is due, in
//     order, and Withdraws one that leaves the line; the ACD ranks it
//     among live callers at its Place and, when it is at the head and an
//     agent is predicted free, calls Scheduler.Dial. Pacing: Dial refuses
//     to have more callbacks of a queue dialling than the agents the ACD
//     predicts free times the queue's pacing ratio.
//   - Dialer (the call plumbing and the trunks): places one attempt's call
//     (the outbound policy, the trunk, the prompt, the confirmation key,
//     the connection to an agent) and says how it ended.
//
// Every state change is an event on the bus (callback.requested,
// .scheduled, .waiting, .dialling, .connected, .completed, .failed,
// .expired, .cancelled) with a typed Change payload.
package callback
