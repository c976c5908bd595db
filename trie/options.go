package trie

import "errors"

// MaxLevels is the deepest topic or filter the package accepts, counted in
// levels ("a/b" has two). Deeper topics never match anything and deeper
// filters are rejected with ErrInvalidFilter; the engine refuses them before
// they get here (its effective limit is the smaller of max_topic_levels and
// MaxLevels), so that nothing it acknowledged is silently dropped.
const MaxLevels = 128

// Errors returned by the package. They are plain sentinels; compare with
// errors.Is.
var (
	// ErrInvalidFilter reports a malformed topic filter: empty, a wildcard that
	// is not a whole level, '#' not last, more than MaxLevels levels, or a
	// malformed $share / $queue prefix.
	ErrInvalidFilter = errors.New("trie: invalid topic filter")
	// ErrInvalidTopic reports a malformed topic name: empty, containing a
	// wildcard, or more than MaxLevels levels.
	ErrInvalidTopic = errors.New("trie: invalid topic name")
	// ErrRetainedFull reports that a new retained topic was refused because the
	// retained index already holds its maximum number of messages.
	ErrRetainedFull = errors.New("trie: retained message limit reached")
	// ErrPayloadTooLarge reports that a retained message was refused because its
	// payload is larger than the configured maximum.
	ErrPayloadTooLarge = errors.New("trie: retained payload too large")
)

// Options are the per-subscription options of MQTT 5 (SUBSCRIBE options byte
// and subscription identifier); MQTT 3.x subscriptions use only QoS.
// The value is 8 bytes and is copied into the index.
type Options struct {
	QoS               uint8  // maximum QoS granted, 0..2
	NoLocal           bool   // do not deliver the subscriber's own messages [MQTT-3.8.3-3]
	RetainAsPublished bool   // keep the RETAIN flag when forwarding
	RetainHandling    uint8  // 0, 1 or 2: when to send retained messages at subscribe time
	SubID             uint32 // subscription identifier, 0 when absent
}

// Member is one subscription stored in the index: a subscriber handle and the
// options it subscribed with. Values handed out by the index (callbacks,
// Group.Members) are copies or read-only views; never modify them in place.
type Member[K comparable] struct {
	Handle  K
	Options Options
}
