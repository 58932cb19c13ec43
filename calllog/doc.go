// Package calllog records calls in the ticket history so that none is lost
// or recorded twice, whatever happens to the process or the database, and
// without the call path waiting for the database.
//
// # What is durable when
//
// Everything goes through one append-only journal, the spool
// (<spool_dir>/calls.spool), before it goes anywhere else:
//
//   - Begin, when a call is answered: a "begin" entry (a mark) with what is
//     known then (Call-ID, caller, called number, flow, start time). Begin
//     returns once the mark is fsync'd.
//   - Finish, when the call has ended and before its resources are freed:
//     an "end" entry with the whole record, closing the mark. Finish
//     returns once the record is fsync'd. It never waits for the database.
//   - Run, the writer, reads the end entries in order and writes them to
//     the database in batches (LogCalls), retrying with backoff while the
//     database is down or slow. The spool is compacted (rewritten without
//     what the database has committed, keeping the marks of calls still in
//     progress, through a synced copy renamed over it) or simply emptied
//     when nothing in it is needed any more.
//
// So a call is durable from the moment Begin returns: after a crash
// (kill -9, power loss) New finds every mark without an end, records those
// calls as failed with hang-up cause server-restart (their end entries are
// appended and synced before New returns), and Run writes them, with every
// finished record the database had not committed yet, once the database
// answers, also when it is down at the restart. A crash while the
// database is down loses nothing either: the spool is the only copy and it
// is complete.
//
// # Exactly once
//
// A mark is closed only by its own end entry, so a call that finished
// never also gets a server-restart record; and recovery writes its end
// entries before anything else, so a second crash during it repeats only
// the marks it had not closed. Replay is exactly-once in effect: the whole
// spool is written again after a restart (the database may have committed
// a batch just before the crash), and the store ignores a call it already
// has (store.LogResult.Duplicate).
//
// # Throughput: group commit
//
// An fsync per call on the call's goroutine would cap the call rate at
// the disk's fsync rate. Instead one flusher goroutine writes and fsyncs
// whatever entries arrived while its previous fsync ran: under load many
// calls share one fsync (Stats.Syncs counts them), each waiting at most
// about two fsyncs. docs/benchmarks.md has the figures.
//
// One process per spool directory: the directory is locked
// (<spool_dir>/calls.lock, flock) and a second process gets ErrSpoolBusy.
// Entries the database refuses as invalid are kept in
// <spool_dir>/rejected.jsonl instead of being retried forever.
package calllog
