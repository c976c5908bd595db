// Package sys is the $SYS side service: it publishes the node's description, statistics and
// metrics under $SYS/brokers/<node>/ every broker.sys_interval (uptime and datetime every
// broker.sys_heartbeat), client presence events (module.presence), and keeps the node's alarm
// registry (raised and cleared alarms, published under .../alarms/alert and .../alarms/clear),
// fed by monitors of the Go runtime, the durable store, the log writer, the event loops
// (long_schedule, busy_port), the routes to peer nodes (busy_dist_port), system memory and CPU.
//
// It is built on engine.Node's exported API only. Everything it publishes goes through
// Node.Publish from the service's own goroutine; the presence hooks that run on the event
// loops only copy the event into a bounded queue (a full queue drops the event and counts it).
package sys

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Options configure the service. The zero value of a duration or threshold disables what it
// drives, except where a default is said.
type Options struct {
	// Interval is broker.sys_interval: $SYS/brokers, version, sysdescr, uptime, datetime,
	// stats/... and metrics/... are published this often (0: never).
	Interval time.Duration
	// Nodes lists the running nodes of the cluster for $SYS/brokers; nil: this node alone.
	Nodes func() []string
	// Heartbeat is broker.sys_heartbeat: uptime and datetime are published this often (0:
	// never, apart from Interval's).
	Heartbeat time.Duration

	// Presence is module.presence: publish clients/<id>/connected|disconnected with
	// PresenceQoS. PresenceQueue bounds the events waiting to be published (0: 10,000).
	Presence      bool
	PresenceQoS   uint8
	PresenceQueue int

	// LongGC (sysmon.long_gc) and LargeHeap (sysmon.large_heap, bytes of Go heap in use)
	// raise the long_gc and large_heap alarms.
	LongGC    time.Duration
	LargeHeap int64
	// MemCheckInterval (os_mon.mem_check_interval) is how often system memory is read from
	// MemInfo (default /proc/meminfo); above SysMemHighWatermark (a fraction, 0.7 for 70%)
	// the high_system_memory_usage alarm is raised, below it cleared.
	MemCheckInterval    time.Duration
	SysMemHighWatermark float64
	MemInfo             string

	// LongSchedule (sysmon.long_schedule): every Check, each event loop is handed a probe
	// task; one that takes longer than this to run it raises long_schedule (0: off). BusyPort
	// (sysmon.busy_port): every Check, a connection whose output backlog stayed above its
	// zone's high-water mark for a whole Check raises busy_port.
	LongSchedule time.Duration
	BusyPort     bool
	// DistPorts (sysmon.busy_dist_port; nil: off) lists the connections to peer nodes with
	// their pending output, read every Check from the service's goroutine; one above
	// DistBusyLimit bytes (0: DefaultDistBusyLimit) at two checks in a row raises
	// busy_dist_port.
	DistPorts     func() []DistPort
	DistBusyLimit int64
	// CPUCheckInterval (os_mon.cpu_check_interval, 0: off) is how often the system's CPU use
	// since the last check is read from ProcStat (default /proc/stat; the node's own share
	// from ProcSelfStat, default /proc/self/stat): above CPUHighWatermark (a fraction) the
	// high_cpu_usage alarm is raised, below CPULowWatermark cleared.
	CPUCheckInterval                  time.Duration
	CPUHighWatermark, CPULowWatermark float64
	ProcStat, ProcSelfStat            string

	// Check is how often the runtime, the store and the log drops are checked (0: 1s).
	// Quiet is how long an event alarm (long_gc, log_lines_dropped) stays raised after its
	// last occurrence (0: 1m).
	Check, Quiet time.Duration

	// AlarmLog and AlarmPublish are alarm.actions (log, publish). AlarmSizeLimit
	// (alarm.size_limit) bounds the cleared alarms kept, AlarmValidity
	// (alarm.validity_period, 0: forever) how long they are kept.
	AlarmLog, AlarmPublish bool
	AlarmSizeLimit         int
	AlarmValidity          time.Duration

	// Log receives the alarm lines and the service's own problems; nil discards them.
	Log *slog.Logger
}

// Service is a running $SYS service. Its methods are safe for concurrent use.
type Service struct {
	n    *engine.Node
	opts Options
	log  *slog.Logger
	base string // "$SYS/brokers/<node>/"

	alarms alarmRegistry

	presence        chan presenceEvent
	presenceDropped atomic.Uint64
	removeHooks     func()

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mon monitorState // owned by the service's goroutine
}

// sysFrom is the publisher name of every message the service publishes.
const sysFrom = "$SYS"

// New prepares the service for n; Start runs it.
func New(n *engine.Node, opts Options) *Service {
	if opts.Check <= 0 {
		opts.Check = time.Second
	}
	if opts.Quiet <= 0 {
		opts.Quiet = time.Minute
	}
	if opts.DistBusyLimit <= 0 {
		opts.DistBusyLimit = DefaultDistBusyLimit
	}
	if opts.PresenceQueue <= 0 {
		opts.PresenceQueue = 10000
	}
	if opts.MemInfo == "" {
		opts.MemInfo = "/proc/meminfo"
	}
	if opts.ProcStat == "" {
		opts.ProcStat = "/proc/stat"
	}
	if opts.ProcSelfStat == "" {
		opts.ProcSelfStat = "/proc/self/stat"
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		n:    n,
		opts: opts,
		log:  log.With("component", "sys"),
		base: "$SYS/brokers/" + n.Name() + "/",
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	s.alarms.init(s)
	return s
}

// Start installs the presence hooks and starts the service's goroutine. Call it once, after
// the node started.
func (s *Service) Start() {
	if s.opts.Presence {
		s.presence = make(chan presenceEvent, s.opts.PresenceQueue)
		s.removeHooks = s.n.AddHooks(&engine.Hooks{
			ClientConnected:    s.onConnected,
			ClientDisconnected: s.onDisconnected,
		})
	}
	go s.run()
}

// Stop removes the hooks and stops the goroutine, waiting for it; presence events still
// queued are dropped. Call it before stopping the node. Safe to call more than once.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		if s.removeHooks != nil {
			s.removeHooks()
		}
		close(s.stop)
		<-s.done
	})
}

// PresenceDropped returns how many presence events found the queue full and were dropped.
func (s *Service) PresenceDropped() uint64 { return s.presenceDropped.Load() }

// ticker returns a ticker's channel for d, or nil (never ready) when d is 0.
func ticker(d time.Duration) (<-chan time.Time, func()) {
	if d <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// run is the service's goroutine: every publication and every check happens here.
func (s *Service) run() {
	defer close(s.done)
	interval, stopI := ticker(s.opts.Interval)
	defer stopI()
	heartbeat, stopH := ticker(s.opts.Heartbeat)
	defer stopH()
	check, stopC := ticker(s.opts.Check)
	defer stopC()
	memCheck, stopM := ticker(s.opts.MemCheckInterval)
	defer stopM()
	cpuCheck, stopCPU := ticker(s.opts.CPUCheckInterval)
	defer stopCPU()

	s.mon.init()
	if s.opts.Interval > 0 {
		s.publishAll()
	}
	s.checkRuntime(time.Now())
	if s.opts.MemCheckInterval > 0 {
		s.checkMemory()
	}
	if s.opts.CPUCheckInterval > 0 {
		s.checkCPU() // the baseline
	}
	for {
		select {
		case <-s.stop:
			return
		case ev := <-s.presence:
			s.publishPresence(&ev)
		case <-interval:
			s.publishAll()
		case <-heartbeat:
			s.publishHeartbeat()
		case now := <-check:
			s.checkRuntime(now)
			s.checkLoops(now)
			s.checkDistPorts()
		case <-cpuCheck:
			s.checkCPU()
		case <-memCheck:
			s.checkMemory()
		}
	}
}

// publish sends one $SYS message, logging (at debug) a refusal such as a bad topic.
func (s *Service) publish(topic string, payload []byte, qos uint8, retain bool) {
	if _, err := s.n.Publish(topic, payload, qos, retain, sysFrom); err != nil {
		s.log.Debug("cannot publish", "topic", topic, "error", err)
	}
}
