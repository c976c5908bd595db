package cluster

import "github.com/emqgo/emqgo/sessions"

// Message tags (sessions/tag.go): a QoS 1 or 2 message forwarded to other nodes carries its
// tag in its PUBLISH's packet identifier; the new node of a moving session uses it to
// recognise copies that reach the session by two ways (move.go, engine/peer_copies.go).

// tagOf returns msg's tag between nodes (sessions.Message.Tag). Never 0.
func tagOf(msg *sessions.Message) uint16 { return msg.Tag() }
