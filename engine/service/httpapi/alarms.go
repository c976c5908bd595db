package httpapi

import (
	"net/http"
	"time"
)

// alarmJSON is an alarm as EMQX 4's /alarms shows it: times in RFC 3339, duration in
// milliseconds (until now for a raised alarm).
type alarmJSON struct {
	Node         string         `json:"node"`
	Name         string         `json:"name"`
	Message      string         `json:"message"`
	Details      map[string]any `json:"details"`
	ActivateAt   string         `json:"activate_at"`
	DeactivateAt string         `json:"deactivate_at,omitempty"`
	Duration     int64          `json:"duration"`
	Activated    bool           `json:"activated"`
}

// alarmList returns the raised alarms (active), the cleared ones (cleared), or both.
func (s *Server) alarmList(active, cleared bool) []alarmJSON {
	out := []alarmJSON{}
	if s.opts.Alarms == nil {
		return out
	}
	now := time.Now()
	act, old := s.opts.Alarms.Alarms()
	add := func(a *Alarm) {
		j := alarmJSON{Node: s.node.Name(), Name: a.Name, Message: a.Message, Details: a.Details,
			ActivateAt: a.ActivatedAt.Format(time.RFC3339), Activated: a.ClearedAt.IsZero()}
		if j.Details == nil {
			j.Details = map[string]any{}
		}
		end := now
		if !j.Activated {
			end = a.ClearedAt
			j.DeactivateAt = a.ClearedAt.Format(time.RFC3339)
		}
		j.Duration = end.Sub(a.ActivatedAt).Milliseconds()
		out = append(out, j)
	}
	if active {
		for i := range act {
			add(&act[i])
		}
	}
	if cleared {
		for i := range old {
			add(&old[i])
		}
	}
	return out
}

// GET /api/v4/alarms: [{"node", "alarms": [raised..., cleared...]}].
func (s *Server) alarmsAll(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.perNode("alarms", s.alarmList(true, true)))
}

// GET /api/v4/nodes/{node}/alarms: [raised..., cleared...].
func (s *Server) nodeAlarms(w http.ResponseWriter, r *http.Request) {
	if s.thisNode(w, r) {
		writeData(w, s.alarmList(true, true))
	}
}

// GET /api/v4/alarms/activated: [{"node", "alarms": [raised...]}].
func (s *Server) alarmsActivated(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.perNode("alarms", s.alarmList(true, false)))
}

// GET /api/v4/alarms/deactivated: [{"node", "alarms": [cleared...]}].
func (s *Server) alarmsDeactivated(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.perNode("alarms", s.alarmList(false, true)))
}

// DELETE /api/v4/alarms/deactivated: forget the cleared alarms.
func (s *Server) clearAlarms(w http.ResponseWriter, r *http.Request) {
	if s.opts.Alarms != nil {
		s.opts.Alarms.ClearHistory()
	}
	writeOK(w)
}
