package raylet

import (
	"fmt"
	"math/rand"
	"time"

	"goray/ids"
	"goray/objstore"
	"goray/placement"
	"goray/resources"
	pb "goray/rpc/proto"
	"goray/scheduling"
	"goray/shm"
)

// state is the node manager's decisions, with no mutex, no gRPC, no exec and no clock reads: see
// the package doc for its events and effects.
type state struct {
	cfg    Config
	nodeID ids.UniqueID
	store  objstore.Store
	now    time.Time // the time of the event being handled (set by the driver)

	stopped bool
	ledger  *resources.Ledger // the node's resources: totals and what is free (fixed point)
	// policy decides where work runs, over view: the cluster as this node sees it (today: itself,
	// its Available refreshed from the ledger when viewVersion is behind; see place).
	policy      scheduling.Policy
	view        scheduling.View
	viewVersion uint64
	// resErr is why the configured resources were refused (Start reports it).
	resErr         error
	workers        map[ids.UniqueID]*worker
	idle           []*worker
	starting       int
	defaultJob     *job                                // the job of the node's configuration (see job.go)
	jobs           map[string]*job                     // jobs drivers brought, by id
	remotes        map[scheduling.NodeID]*remoteNode   // the cluster's other nodes (see remote.go)
	agentID        ids.UniqueID                        // the worker id of the node's own client
	spreadCursor   scheduling.NodeID                   // where the last SPREAD request went
	queueDepth     int                                 // forwarded tasks per CPU a busy node may queue
	locating       map[ids.ObjectID]bool               // unknown objects looked for on other nodes (locate.go)
	lineage        lineage                             // results kept on other nodes (lineage.go)
	bundles        map[bundleKey]*heldBundle           // placement groups' bundles held here (bundles.go)
	groups         map[string]*ownedGroup              // live placement groups this node owns (groups.go)
	groupDir       *placement.Directory                // this node's groups' records, live and removed
	groupSeq       uint64                              // the last two-phase round of a group
	groupWaiterSeq uint64                              // the last WaitPlacementGroup parked
	unshown        map[scheduling.NodeID]bool          // nodes with bundles committed since the view showed them (showCommitted)
	viewHeld       map[scheduling.NodeID]resources.Set // what groups reserved on nodes since their reports, not yet out of the view (foldHeld)
	taskLog        taskLog                             // the latest runs of tasks its workers told of (nodestate.go)
	remoteHolds    map[ids.ObjectID][]uint64           // holds for processes of other nodes, by token (holdForRemote)
	nextHold       uint64                              // the last token of remoteHolds
	backlog        time.Duration                       // work in time a fast node may queue (forwardBound)
	blocked        int
	ready          *readyQueue                  // arguments present, waiting for resources and a worker
	waitingDeps    map[ids.ObjectID][]*task     // tasks waiting for an argument
	pending        map[ids.ObjectID]*task       // return id -> task not finished
	subscribers    map[ids.ObjectID][]*client   // clients waiting for an object
	refs           map[ids.ObjectID]*objectRefs // what keeps each object alive (see refs.go)
	alloc          *shm.Allocator               // ranges of the shared-memory store (nil: none)
	arenaPath      string
	shmObjs        map[ids.ObjectID]*shmObject
	shmSeq         uint64
	spills         int
	creates        createQueue // CreateObject requests waiting for room (see createqueue.go)
	clients        map[*client]bool
	byWorker       map[ids.UniqueID]*client // connected clients by worker id
	expected       map[ids.ObjectID]*client // objects a client promised to put (ExpectObjects)
	actors         map[ids.ActorID]*actor
	named          map[actorKey]*actor    // live named actors
	deadActors     []*actor               // dead actors still in actors, oldest first (see actorDied)
	pendingActors  []*actor               // actors waiting for resources, in creation order
	actorSeq       uint64                 // actors created so far (their creation order)
	actorWorkers   int                    // live worker processes dedicated to actors
	starts         startControl           // how processes are started (see start.go)
	deadLogs       []logFiles             // log files of dead workers kept, oldest first (see exit.go)
	refsGathers    map[uint64]*refsGather // requests of the processes' references under way (objectrefs.go)
	refsSeq        uint64                 // the last of them

	eff effects // recorded by the current event, taken by the driver
}

// effects is what the decisions of one event ask the driver to do once the lock is released.
type effects struct {
	spawnPool   []*job        // a pool worker process to start for each
	spawnActors []*actor      // a process of its own for each
	kill        []*worker     // processes to kill (SIGKILL)
	spill       [][]*spillJob // rounds of objects to write to disk; then spillsWritten
	restore     []*restoreJob // spill files to read back; then finishRestore
	back        []*backJob    // arena ranges to back with memory; then rangeBacked
	remove      []string      // files to delete
	prune       []logFiles    // dead workers' log files to delete
	timers      []timer       // after each delay, its fire event
	forward     []forwardJob  // tasks to send to other nodes
	hostActor   []actorJob    // actor incarnations other nodes are to host
	relay       []relayJob    // questions about actors for their owners
	names       []nameJob     // named actors' names to claim, release or look up
	locate      []locateJob   // objects to look for on other nodes; then located
	fetchKept   []keptFetch   // results kept on other nodes to pull here; then keptFetched
	taken       []keptTaken   // results other nodes kept for this one that they may free
	peerAsks    []peerAsk     // messages to other nodes whose answers come back as events
	groupPuts   []groupPut    // placement groups' records for the control store
	groupGets   []groupGet    // placement group lookups in the control store
	nodeLists   []nodeList    // clients' requests for the cluster's nodes (GetNodes)
	jobsStarted []*pb.JobInfo // drivers joined, and
	jobsEnded   []string      // jobs whose drivers all left, for the control store's job table
}

// nodeList is a client's request for the cluster's nodes, answered from the control store.
type nodeList struct {
	c         *client
	requestID uint64
}

// timer asks the driver to deliver fire as an event after delay.
type timer struct {
	delay time.Duration
	fire  func(s *state)
}

// empty tells whether there is nothing to do.
func (e *effects) empty() bool {
	return len(e.spawnPool) == 0 && len(e.spawnActors) == 0 && len(e.kill) == 0 && len(e.spill) == 0 &&
		len(e.restore) == 0 && len(e.back) == 0 && len(e.remove) == 0 && len(e.prune) == 0 && len(e.timers) == 0 && len(e.forward) == 0 &&
		len(e.hostActor) == 0 && len(e.relay) == 0 && len(e.names) == 0 && len(e.locate) == 0 &&
		len(e.fetchKept) == 0 && len(e.taken) == 0 && len(e.peerAsks) == 0 && len(e.groupPuts) == 0 && len(e.groupGets) == 0 &&
		len(e.nodeLists) == 0 && len(e.jobsStarted) == 0 && len(e.jobsEnded) == 0
}

// takeEffects returns the effects recorded since the last call and forgets them.
func (s *state) takeEffects() effects {
	e := s.eff
	s.eff = effects{}
	return e
}

// after asks for fire to run as an event after delay.
func (s *state) after(delay time.Duration, fire func(s *state)) {
	s.eff.timers = append(s.eff.timers, timer{delay, fire})
}

// newState is the state of a node that has just been made: no workers, no objects.
func newState(cfg Config, nodeID ids.UniqueID) state {
	total := map[string]float64{}
	for k, v := range cfg.Resources {
		total[k] = v
	}
	if _, ok := total["CPU"]; !ok {
		total["CPU"] = 1
	}
	totals, resErr := resources.NewSet(total, resources.Total)
	if resErr != nil {
		resErr = fmt.Errorf("node manager: resources: %w", resErr)
	}
	local := scheduling.NodeID(nodeID.Hex())
	return state{
		cfg:         cfg,
		nodeID:      nodeID,
		store:       objstore.NewMemoryStore(),
		ledger:      resources.NewLedger(totals),
		policy:      scheduling.DefaultPolicy(rand.Intn),
		view:        scheduling.View{Local: local, Nodes: []scheduling.Node{{ID: local, Total: totals, Available: totals, Alive: true}}},
		resErr:      resErr,
		workers:     map[ids.UniqueID]*worker{},
		defaultJob:  nodeJob(cfg),
		jobs:        map[string]*job{},
		remotes:     map[scheduling.NodeID]*remoteNode{},
		queueDepth:  forwardQueueDepth,
		backlog:     forwardBacklog,
		ready:       newReadyQueue(),
		waitingDeps: map[ids.ObjectID][]*task{},
		pending:     map[ids.ObjectID]*task{},
		subscribers: map[ids.ObjectID][]*client{},
		refs:        map[ids.ObjectID]*objectRefs{},
		shmObjs:     map[ids.ObjectID]*shmObject{},
		clients:     map[*client]bool{},
		byWorker:    map[ids.UniqueID]*client{},
		expected:    map[ids.ObjectID]*client{},
		actors:      map[ids.ActorID]*actor{},
		named:       map[actorKey]*actor{},
		starts:      startControl{maxConcurrent: maxStartupConcurrency()},
		creates:     createQueue{grace: graceFor()},
		lineage:     lineage{kept: map[ids.ObjectID]*task{}, bound: maxLineageBytes()},
		groupDir:    placement.NewDirectory(),
	}
}
