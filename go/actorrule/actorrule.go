// Package actorrule holds the rules of an actor's life that both modes follow: local mode
// (go/core, actors in the driver's process) and the node (go/raylet, actors in worker
// processes). Each rule is decided here, once, so the two modes cannot disagree. They follow Ray:
//
//   - Creating an actor always gives a handle. When the factory cannot run (an argument is an
//     ObjectRef no process created, or an argument's task failed, or the factory throws), the
//     actor is dead, and every call on it fails with RayActorException carrying the cause.
//   - Killing an actor this cluster never had is an error to the caller (Ray: "Failed to find a
//     corresponding actor handle"); killing one that is dead already does nothing.
//   - The causes calls on a dead actor report are the texts below.
package actorrule

import "fmt"

// Why an actor died, as calls on it report.
const (
	// CauseKilled: ray::ActorHandle::Kill() (no_restart), or Kill(false) with no restarts left.
	CauseKilled = "The actor was killed with ray::ActorHandle::Kill and is not restarted"
	// CauseExited: the actor called ray::ExitActor().
	CauseExited = "The actor exited: ray::ExitActor() was called"
	// CauseKilledRestart fails the calls in flight when Kill(false) restarts an actor.
	CauseKilledRestart = "The actor was killed with ray::ActorHandle::Kill(false) while running this call"
	// CauseOwnerDied: the driver of the actor's job exited, and the actor was not detached.
	CauseOwnerDied = "The actor's owner died: the driver that created it exited (only detached actors outlive their driver)"
)

// TaskLabel names a task in messages: its name when it has one, else its function; an actor's
// creation is its factory.
func TaskLabel(function, name string, creation bool) string {
	switch {
	case creation:
		return "actor factory " + function
	case name != "":
		return fmt.Sprintf("task %q", name)
	}
	return "task " + function
}

// UnknownArgument is the error of a task or factory whose ObjectRef argument ref (hex) no process
// created, or which was freed; what names the task ("task Plus", "actor factory Counter::Make").
func UnknownArgument(what, refHex string) string {
	return fmt.Sprintf("Argument of %s is ObjectRef %s, which no process of this cluster created (or it was freed)", what, refHex)
}

// FactoryArgumentFailed is the cause of death of an actor whose factory could not run because an
// argument failed (detail: that argument's error).
func FactoryArgumentFailed(detail string) string {
	return "The actor died because an argument of its factory failed: " + detail
}

// CreationFailed is the cause of death of an actor whose factory ran and failed (detail: its
// error).
func CreationFailed(detail string) string {
	return "The actor died because its creation failed: " + detail
}

// KillOutcome is what killing an actor does.
type KillOutcome int

const (
	// KillUnknownActor: the cluster never had the actor; the caller gets UnknownActor's error.
	KillUnknownActor KillOutcome = iota
	// KillNothing: the actor is dead already.
	KillNothing
	// KillActor: the actor is killed; it restarts unless noRestart or out of restarts.
	KillActor
)

// Kill decides what killing an actor does, from whether the cluster knows it and whether it is
// dead.
func Kill(known, dead bool) KillOutcome {
	switch {
	case !known:
		return KillUnknownActor
	case dead:
		return KillNothing
	default:
		return KillActor
	}
}

// UnknownActor is the error of a kill (or another request) naming an actor id (hex) that this
// cluster never had.
func UnknownActor(idHex string) string {
	return fmt.Sprintf("Failed to find a corresponding actor handle for actor %s: no actor with this id was created in this cluster", idHex)
}
