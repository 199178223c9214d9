// Package raylet is the node manager: one per node. It keeps the node's objects (small ones in
// memory, large ones in a shared-memory arena, spilled to disk when it is full), a pool of
// prestarted worker processes and a process per actor, the node's resources, and schedules tasks
// onto workers once their ObjectRef arguments exist. Core workers (drivers and workers) talk to
// it over one long-lived bidirectional gRPC stream each, on a unix socket in the session
// directory.
//
// Actor calls do not go through the node: a caller sends them straight to the actor's process
// (service CoreWorker) and gets the results back from it. The node keeps the actor's life
// (creation, placement, restarts, death, kill, names) and tells callers where the actor takes
// calls, in which incarnation, and why an incarnation ended (WaitActor): an actor's creation
// result brings its address (TaskDone.actor_address), and the reply to a kill names the
// incarnation killed. A caller that lets another process read the result of such a call promises
// to put it (ExpectObjects); an actor sealing a large result in shared memory names the caller as
// its holder (SealObject.holder_id, with a reply once sealed); refs handed on with a call or a
// result are announced for their new holder (UpdateRefs.holder_id), and a Barrier tells the
// sender the node has handled all that before the call or result leaves. An actor call
// submitted to the node anyway is refused: its result is an error.
//
// # Decisions apart from I/O
//
// The node's decisions live in state (state.go), in the shape of etcd raft's state machine: it
// has no mutex, makes no gRPC call, starts no process, touches no file and reads no clock. The
// driver (Raylet, driver.go) owns the lock, the sockets, the processes, the arena's mapping, the
// files and the clock. It delivers each event to the state under the lock (Raylet.do, with the
// event's time in state.now), takes the effects the event recorded, and applies them with the
// lock released. Tests drive the state alone: events in, messages and effects out (state_test.go).
//
//	event (state method)                         from
//	--------------------------------------------------------------------------------------------
//	started                                      the node starts (prestart the pool)
//	connected(client, worker, msgs)              a core worker registered on its stream
//	handle(client, msgs)                         its messages: submit, put, subscribe, done,
//	                                             blocked, return tasks, refs, create/kill/get
//	                                             actor, actor exiting, create/seal/release object,
//	                                             wait actor (answered now, or parked until the
//	                                             actor is alive in a later incarnation or dead,
//	                                             or with ended_only until the incarnation named
//	                                             ended), refs for another holder,
//	                                             expect objects (a promise to put them: their
//	                                             subscribers wait), barrier (answered at once)
//	clientGone(client, err)                      its stream ended (its parked requests go, the
//	                                             objects it promised and did not put fail)
//	workerSpawned(worker, actor) / spawnFailed   a process started, or could not be
//	workerEnded(worker, exit)                    a process ended (its stderr already read)
//	spillsWritten(jobs)                          a spill round's files are written
//	finishRestore(job)                           a spilled object's file was read back
//	rangeBacked(job)                             an arena range is backed with memory
//	timer fire                                   a delay the state asked for ran out
//
//	effect (effects field)                       the driver
//	--------------------------------------------------------------------------------------------
//	spawnPool, spawnActors                       starts processes (then workerSpawned/spawnFailed)
//	kill                                         SIGKILLs processes (then workerEnded)
//	spill                                        writes objects from the arena to files
//	restore                                      reads spill files into the arena or memory
//	back                                         backs arena ranges with memory (fallocate)
//	remove, prune                                deletes spill files, dead workers' logs
//	timers                                       delivers the timer's event after its delay
//	client.send (each client's outbox)           its sender goroutine writes the stream
//
// Where work runs is asked of the scheduling policy (package scheduling) over the node's view of
// the cluster; resources are one fixed-point ledger (package resources).
package raylet
