package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// listenerJSON is a listener as EMQX 4's /listeners shows it, with 4.3's "running".
type listenerJSON struct {
	Protocol      string            `json:"protocol"`   // mqtt:tcp
	Identifier    string            `json:"identifier"` // mqtt:tcp:external
	ListenOn      string            `json:"listen_on"`
	Acceptors     int               `json:"acceptors"`
	MaxConns      int               `json:"max_conns"` // 0: unlimited
	CurrentConns  int64             `json:"current_conns"`
	ShutdownCount map[string]uint64 `json:"shutdown_count"` // closed connections by cause
	Running       bool              `json:"running"`
	ProxyProtocol bool              `json:"proxy_protocol"`
}

func (s *Server) listenerList() []listenerJSON {
	ls := s.node.Listeners()
	out := make([]listenerJSON, len(ls))
	for i, l := range ls {
		shut := map[string]uint64{}
		for cause, n := range map[string]uint64{"proxy_protocol": l.RefusedProxyProtocol, "listener_stopped": l.RefusedStopped, "closed_by_stop": l.ClosedByStop} {
			if n > 0 {
				shut[cause] = n
			}
		}
		out[i] = listenerJSON{
			Protocol: "mqtt:" + l.Kind, Identifier: "mqtt:" + l.ID(), ListenOn: l.Addr.String(),
			Acceptors: l.Acceptors, MaxConns: l.MaxConnections, CurrentConns: l.Connections,
			ShutdownCount: shut, Running: l.Running, ProxyProtocol: l.ProxyProtocol,
		}
	}
	return out
}

// GET /api/v4/listeners: [{"node", "listeners": [...]}].
func (s *Server) listenersAll(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.perNode("listeners", s.listenerList()))
}

// GET /api/v4/nodes/{node}/listeners: [...].
func (s *Server) nodeListeners(w http.ResponseWriter, r *http.Request) {
	if s.thisNode(w, r) {
		writeData(w, s.listenerList())
	}
}

// PUT /api/v4/listeners/{id}/restart (EMQX 4.3): id is mqtt:tcp:external or tcp:external.
func (s *Server) restartListener(w http.ResponseWriter, r *http.Request) {
	if !s.nodeOK(w, r) {
		return
	}
	id := strings.TrimPrefix(r.PathValue("id"), "mqtt:")
	if err := s.node.RestartListener(id); err != nil {
		if errors.Is(err, engine.ErrUnknownListener) {
			writeError(w, http.StatusNotFound, codeNotFound, err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, codeUnknown, err.Error())
		return
	}
	writeOK(w)
}
