package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Cluster is the cluster the API answers for (Options.Cluster): the running nodes, and a way
// to ask another node's API for its own facts (that node serves them with Local).
type Cluster interface {
	// RunningNodes returns the names of the running nodes, this one included.
	RunningNodes() []string
	// Call runs method on node with req and returns the answer.
	Call(ctx context.Context, node, method string, req []byte) ([]byte, error)
}

// Methods a node answers for the others' APIs (Local).
const (
	MethodNode   = "api.node"   // nodeInfoJSON
	MethodBroker = "api.broker" // brokerInfo
	MethodStats  = "api.stats"  // {"node":..., "stats":{...}}
)

// clusterCallTimeout bounds one call to another node.
const clusterCallTimeout = 5 * time.Second

// Local answers another node's Call for this node's facts (MethodNode, MethodBroker,
// MethodStats) as JSON. Safe for concurrent use.
func (s *Server) Local(method string) ([]byte, error) {
	switch method {
	case MethodNode:
		return json.Marshal(s.nodeInfoJSON())
	case MethodBroker:
		return json.Marshal(s.brokerInfo())
	case MethodStats:
		return json.Marshal(map[string]any{"node": s.node.Name(), "stats": statsMap(s.node.Stats())})
	}
	return nil, fmt.Errorf("httpapi: no method %q", method)
}

// fromEveryNode gathers method's answer from every running node, in node order; a node that does
// not answer is left out (and logged).
func (s *Server) fromEveryNode(r *http.Request, method string) []json.RawMessage {
	names := []string{s.node.Name()}
	if s.opts.Cluster != nil {
		names = s.opts.Cluster.RunningNodes()
		slices.Sort(names)
	}
	out := make([]json.RawMessage, 0, len(names))
	for _, name := range names {
		if b, err := s.fromNode(r.Context(), name, method); err == nil {
			out = append(out, b)
		} else {
			s.opts.Log.Warn("HTTP API: a node did not answer", "node", name, "method", method, "error", err)
		}
	}
	return out
}

// fromNode is method's answer from node (this one or another).
func (s *Server) fromNode(ctx context.Context, name, method string) (json.RawMessage, error) {
	if name == s.node.Name() || s.opts.Cluster == nil {
		return s.Local(method)
	}
	ctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
	defer cancel()
	return s.opts.Cluster.Call(ctx, name, method, nil)
}

// otherNode answers a /nodes/{node} or /brokers/{node} request for another running node of
// the cluster; false when {node} is none (the caller then answers 404 through thisNode).
func (s *Server) otherNode(w http.ResponseWriter, r *http.Request, method string) bool {
	name := r.PathValue("node")
	if s.opts.Cluster == nil || name == s.node.Name() || !slices.Contains(s.opts.Cluster.RunningNodes(), name) {
		return false
	}
	b, err := s.fromNode(r.Context(), name, method)
	if err != nil {
		writeError(w, http.StatusBadGateway, codeNotFound, err.Error())
		return true
	}
	writeData(w, b)
	return true
}
