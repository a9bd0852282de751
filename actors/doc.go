// Package actors is walrus-go's small typed actor runtime (docs/architecture.md §6).
//
// An actor owns its state and runs on exactly one goroutine; every other goroutine reaches it
// only through its bounded mailbox, with [Ref.Tell] (non-blocking, fails fast with
// [ErrMailboxFull]), [Ref.Send] (blocking until there is room or the context ends) or
// [Ask] (request/response over a one-slot [Reply] channel, cancellable by context).
//
// Every actor runs under a [System] that supervises it: an actor whose Receive returns an
// error or panics is rebuilt from its [Factory] after an exponential backoff, keeping its
// mailbox; after too many failures inside a window the failure escalates to the parent
// system, which stops all its actors and reports the error upward (the root system then
// stops and exposes the error through [System.Err]). Durable state lives in the datastore
// (docs/architecture.md §7), so a restarted actor reloads it in its factory.
//
// CPU-heavy work (encode, decode, proof checks) does not belong on an actor goroutine: a
// [Pool] runs it on a bounded set of workers and [Do] delivers the result back to an actor
// as an ordinary message.
//
// Every goroutine the package starts has a defined end: [System.Stop] cancels and waits
// for all of them.
//
// The runtime reads time only through an injectable [Clock], so supervision (backoff and
// the escalation window) is testable without sleeping.
package actors
