package bridge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// Name is the plugin's name.
const Name = "emqx_bridge_mqtt"

// Config is one bridge (bridge.mqtt.<name>.* of etc/plugins/emqx_bridge_mqtt.conf), as
// cmd/internal/plugins builds it. Immutable once given to Open.
type Config struct {
	Name    string
	Address string // host:port of the remote broker (an RPC bridge: its node's RPC listener)
	// RPC, when set, makes this an RPC bridge (address = node@host): forward-only, to another
	// of our clusters over its RPC listener instead of MQTT (rpc.go).
	RPC     *RPC
	Version codec.Version // proto_ver: mqttv3 = codec.V31, mqttv4 = codec.V311, mqttv5 = codec.V5
	// BridgeMode sets mosquitto's bridge bit (0x80) on the protocol level of MQTT 3.x
	// CONNECTs: a remote that knows it does not send the bridge's own messages back and keeps
	// their retain flag. A remote that refuses the level is asked again without the bit.
	BridgeMode bool
	ClientID   string
	Username   string
	Password   string
	CleanStart bool
	TLS        *tls.Config // nil: plain TCP
	// PSK, when set (ssl = on with psk_ciphers), makes the bridge dial with TLS-PSK; TLS is
	// then unused (the wiring leaves it nil).
	PSK       *PSK
	KeepAlive time.Duration
	// Forwards are the local topic filters whose messages go to the remote.
	Forwards []string
	// Mountpoint prefixes the topics sent to the remote (${node} already replaced).
	Mountpoint string
	// Subscriptions are the remote filters whose messages are published locally.
	Subscriptions []Subscription
	// AutoStart connects at start (start_type = auto); otherwise `bridges start` does.
	AutoStart bool
	// ReconnectInterval is the longest wait between two connection attempts; the first
	// retries come sooner (1s, doubling up to it).
	ReconnectInterval time.Duration
	// RetryInterval resends unacknowledged QoS 1/2 messages on an MQTT 3.x connection (MQTT 5
	// resends only after a reconnect, as the protocol says).
	RetryInterval time.Duration
	// MaxInflightBatches bounds the batches sent and not wholly acknowledged.
	MaxInflightBatches int
	BatchCount         int   // queue.batch_count_limit: messages per batch
	BatchBytes         int64 // queue.batch_bytes_limit: bytes per batch
	QueueDir           string
	SegmentBytes       int64 // queue.replayq_seg_bytes
	// MaxQueueBytes bounds the queue (queue.max_total_size): past it the oldest messages are
	// dropped and counted.
	MaxQueueBytes int64
	// BacklogAlarm raises the alarm bridge_backlog/<name> while the oldest unsent message is
	// older than this (0: never).
	BacklogAlarm time.Duration
}

// Subscription is one remote subscription of a bridge.
type Subscription struct {
	Topic string `json:"topic"`
	QoS   byte   `json:"qos"`
}

func (c *Config) check() error {
	if c.Name == "" {
		return errors.New("a bridge needs a name")
	}
	if c.RPC != nil {
		if err := c.checkRPC(); err != nil {
			return err
		}
	} else if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("bridge %s: address %q is not host:port (RPC bridges to node@host are not MQTT bridges): %v", c.Name, c.Address, err)
	}
	switch c.Version {
	case codec.V31, codec.V311, codec.V5:
	default:
		return fmt.Errorf("bridge %s: unknown protocol version %d", c.Name, c.Version)
	}
	for _, f := range c.Forwards {
		if err := codec.ValidTopicFilter([]byte(f)); err != nil {
			return fmt.Errorf("bridge %s: forward %q: %v", c.Name, f, err)
		}
	}
	for _, s := range c.Subscriptions {
		if err := codec.ValidTopicFilter([]byte(s.Topic)); err != nil {
			return fmt.Errorf("bridge %s: subscription %q: %v", c.Name, s.Topic, err)
		}
		if s.QoS > 2 {
			return fmt.Errorf("bridge %s: subscription %q: QoS %d is not 0, 1 or 2", c.Name, s.Topic, s.QoS)
		}
	}
	if c.MaxInflightBatches <= 0 {
		c.MaxInflightBatches = 32
	}
	if c.BatchCount <= 0 {
		c.BatchCount = 32
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 1 << 20
	}
	if c.ReconnectInterval <= 0 {
		c.ReconnectInterval = 30 * time.Second
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = 20 * time.Second
	}
	return nil
}

// PSK is the TLS-PSK client side of a bridge (psk_ciphers, psk_identity).
type PSK struct {
	Identity string   // psk_identity: the identity sent to the remote
	Suites   []uint16 // psk_ciphers, tlspsk suite ids in order of preference
	// Key returns the key of an identity (the emqx_psk_file table, as EMQX's bridge asks
	// emqx_psk); false when unknown. Called on the bridge's goroutine at every connection
	// attempt, so a reloaded table applies to the next one; it may block briefly.
	Key func(identity string) (key []byte, ok bool)
}
