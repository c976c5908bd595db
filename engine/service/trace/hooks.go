package trace

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/sessions"
)

// hooks returns the node hooks of the service. Each runs on an event loop (or where the
// event happens): it returns at once unless a trace follows the event, and then only
// describes it and queues the line.
func (s *Service) hooks() *engine.Hooks {
	return &engine.Hooks{
		PacketIn:           s.packetIn,
		PacketsOut:         s.packetsOut,
		ClientConnected:    s.connected,
		ClientDisconnected: s.disconnected,
		MessagePublished:   s.published,
		MessageDropped:     s.dropped,
	}
}

// client returns the client trace of id at level or below, nil if there is none.
func (s *Service) client(id string, level Level) *trace {
	m := s.clients.Load()
	if m == nil || len(*m) == 0 {
		return nil
	}
	t := (*m)[id]
	if t == nil || level < t.level {
		return nil
	}
	return t
}

// emit queues a line for t, or counts it as dropped when the queue is full.
func (s *Service) emit(t *trace, level Level, text string) { s.enqueue(t, level, text, false) }

// enqueue is emit; a local line goes to the file only (not to the live topic).
func (s *Service) enqueue(t *trace, level Level, text string, local bool) {
	select {
	case s.queue <- record{t: t, at: time.Now(), level: level, text: text, local: local}:
	default:
		t.dropped.Add(1)
	}
}

func (s *Service) packetIn(id string, v codec.Version, pkt []byte) {
	if m := s.clients.Load(); m == nil || len(*m) == 0 {
		return
	}
	if id == "" && len(pkt) > 0 && codec.PacketType(pkt[0]>>4) == codec.TypeConnect {
		// A CONNECT refused before the engine read its client id.
		var p codec.Connect
		if p.Decode(pkt) != nil && len(p.ClientID) == 0 {
			return
		}
		id = string(p.ClientID)
	}
	if t := s.client(id, LevelDebug); t != nil {
		s.emit(t, LevelDebug, id+" RECV "+packetText(pkt, v))
	}
}

func (s *Service) packetsOut(id string, v codec.Version, bufs [][]byte) {
	t := s.client(id, LevelDebug)
	if t == nil {
		return
	}
	out := bufs[0]
	if len(bufs) > 1 {
		out = bytes.Join(bufs, nil) // payloads written by reference
	}
	for len(out) > 0 {
		h, err := codec.FrameV(out, 0, v)
		if err != nil || h.Total == 0 {
			s.emit(t, LevelDebug, id+" SEND "+strconv.Itoa(len(out))+" bytes that are not whole packets")
			return
		}
		s.enqueue(t, LevelDebug, id+" SEND "+packetText(out[:h.Total], v), s.carriesTrace(out, h))
		out = out[h.Total:]
	}
}

func (s *Service) connected(ev *engine.ClientEvent) {
	if t := s.client(ev.ClientID, LevelInfo); t != nil {
		s.emit(t, LevelInfo, ev.ClientID+" connected from "+ev.Peer.String()+" on listener "+ev.Listener+
			" (MQTT "+ev.Version.String()+", clean_start="+strconv.FormatBool(ev.CleanStart)+
			", keepalive="+strconv.Itoa(int(ev.KeepAlive))+", session_present="+strconv.FormatBool(ev.SessionPresent)+
			", username="+ev.Username+")")
	}
}

func (s *Service) disconnected(ev *engine.ClientEvent, reason string) {
	if t := s.client(ev.ClientID, LevelInfo); t != nil {
		s.emit(t, LevelInfo, ev.ClientID+" disconnected: "+reason)
	}
}

func (s *Service) published(msg *sessions.Message, receivers int) {
	ts := s.topics.Load()
	if ts == nil || len(*ts) == 0 || msg.From == PublisherName {
		return
	}
	for _, t := range *ts {
		if t.level > LevelInfo || !match(t.filter, msg.Topic) {
			continue
		}
		b := make([]byte, 0, 96+len(msg.Topic))
		b = append(b, "PUBLISH to "...)
		b = append(b, msg.Topic...)
		b = append(b, " from "...)
		b = append(b, publisher(msg.From)...)
		b = append(b, " ("...)
		start := len(b)
		b = field(b, start, "qos", strconv.Itoa(int(msg.QoS)))
		b = field(b, start, "retain", strconv.FormatBool(msg.Retain))
		b = payload(b, start, msg.Payload)
		b = field(b, start, "receivers", strconv.Itoa(receivers))
		b = append(b, ')')
		s.emit(t, LevelInfo, string(b))
	}
}

func (s *Service) dropped(clientID string, msg *sessions.Message, cause engine.DropCause) {
	if msg.From == PublisherName {
		return // a live trace line nobody took: not a line of its own
	}
	if t := s.client(clientID, LevelWarning); t != nil {
		s.emit(t, LevelWarning, clientID+" message to "+string(msg.Topic)+" from "+publisher(msg.From)+" dropped: "+string(cause))
	}
	ts := s.topics.Load()
	if ts == nil || len(*ts) == 0 {
		return
	}
	for _, t := range *ts {
		if t.level <= LevelWarning && match(t.filter, msg.Topic) {
			s.emit(t, LevelWarning, "message to "+string(msg.Topic)+" from "+publisher(msg.From)+" dropped for "+publisher(clientID)+": "+string(cause))
		}
	}
}

// publisher names a message's publisher for a line: the client id, or "the broker".
func publisher(from string) string {
	if from == "" {
		return "the broker"
	}
	return from
}

// splitLevels splits a topic filter into its levels.
func splitLevels(filter string) []string { return strings.Split(filter, "/") }

// match reports whether topic matches the filter's levels: "+" matches one level, a last
// "#" the rest (also none), and wildcards at the first level do not match topics starting
// with "$" [MQTT-4.7.2-1].
func match(filter []string, topic []byte) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == "+" || filter[0] == "#") {
		return false
	}
	for i, f := range filter {
		if f == "#" {
			return true
		}
		j := bytes.IndexByte(topic, '/')
		lvl := topic
		if j >= 0 {
			lvl = topic[:j]
		}
		if f != "+" && f != string(lvl) {
			return false
		}
		if j < 0 {
			// The topic's last level: the filter must end here too, or go on with "#".
			return i == len(filter)-1 || i == len(filter)-2 && filter[i+1] == "#"
		}
		topic = topic[j+1:]
	}
	return false // the topic has more levels than the filter
}
