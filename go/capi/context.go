package main

/*
#include "ray/c_api.h"
*/
import "C"

import (
	"encoding/hex"
	"encoding/json"
)

// soleJobID is the job id of a driver that is its cluster's only job: one on an embedded node,
// or in local mode (Ray numbers a new cluster's first job 01000000 too).
const soleJobID = "01000000"

// jobIDOr is a worker's job id as its node gave it, or soleJobID for the embedded node's job
// (which has no id of its own).
func jobIDOr(id string) string {
	if id == "" {
		return soleJobID
	}
	return id
}

// runtimeContext is ray_get_runtime_context's answer, as JSON.
type runtimeContext struct {
	JobID     string `json:"job_id"`
	NodeID    string `json:"node_id"`
	ActorID   string `json:"actor_id"`
	TaskID    string `json:"task_id"`
	Namespace string `json:"namespace"`
	LocalMode bool   `json:"local_mode"`
	Restarted bool   `json:"was_current_actor_restarted"`
}

//export ray_get_runtime_context
func ray_get_runtime_context(out **C.char, errOut **C.char) C.int {
	st := current.Load()
	if st == nil {
		return setErr(errOut, errNotInitialized)
	}
	rc := runtimeContext{JobID: st.jobID, Namespace: st.namespace, LocalMode: st.localMode}
	if node, ok := st.cw.NodeID(); ok {
		rc.NodeID = node.Hex()
	}
	taskID, actorID, inActor := st.cw.ThreadContext()
	if len(taskID) > 0 {
		rc.TaskID = hex.EncodeToString(taskID)
	}
	if inActor {
		rc.ActorID = actorID.Hex()
		rc.Restarted = st.cw.WasCurrentActorRestarted()
	}
	data, err := json.Marshal(rc)
	if err != nil {
		return setErr(errOut, err)
	}
	*out = C.CString(string(data))
	return C.RAY_OK
}

// nodeInfo is one node of ray_get_all_node_info's answer, as JSON.
type nodeInfo struct {
	NodeID    string             `json:"node_id"`
	Address   string             `json:"node_manager_address"`
	Hostname  string             `json:"node_hostname"`
	Alive     bool               `json:"alive"`
	IsHead    bool               `json:"is_head"`
	Resources map[string]float64 `json:"resources"`
	Available map[string]float64 `json:"available_resources"`
}

//export ray_get_all_node_info
func ray_get_all_node_info(out **C.char, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	nodes, err := st.cw.Nodes()
	if err != nil {
		return setErr(errOut, err)
	}
	list := make([]nodeInfo, 0, len(nodes))
	for _, n := range nodes {
		info := nodeInfo{NodeID: hex.EncodeToString(n.NodeId), Address: n.Address, Hostname: n.Hostname, Alive: n.Alive,
			IsHead: n.IsHead, Resources: n.Resources, Available: n.Available}
		if info.Resources == nil {
			info.Resources = map[string]float64{}
		}
		if info.Available == nil {
			info.Available = map[string]float64{}
		}
		list = append(list, info)
	}
	data, err := json.Marshal(list)
	if err != nil {
		return setErr(errOut, err)
	}
	*out = C.CString(string(data))
	return C.RAY_OK
}
