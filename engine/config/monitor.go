package config

import "time"

// Monitor is the part of the sysmon.*, os_mon.* and alarm.* groups the node acts on (the $SYS
// service, engine/service/sys); the Erlang VM monitors without a Go equivalent stay without
// effect. Zero durations and sizes disable their check.
type Monitor struct {
	LongGC    time.Duration // sysmon.long_gc: a GC pause longer than this raises long_gc
	LargeHeap int64         // sysmon.large_heap: Go heap bytes in use above this raise large_heap
	// sysmon.long_schedule: an event loop slower than this to pick up a task raises
	// long_schedule (0: off); sysmon.busy_port: a connection whose output backlog stays above
	// the high-water mark raises busy_port.
	LongSchedule time.Duration
	BusyPort     bool
	// sysmon.busy_dist_port: a cluster route to a peer node whose pending output stays above
	// 1 MiB for a whole check raises busy_dist_port.
	BusyDistPort bool

	CPUCheckInterval time.Duration // os_mon.cpu_check_interval (0: off)
	CPUHighWatermark float64       // os_mon.cpu_high_watermark, a fraction: raises high_cpu_usage
	CPULowWatermark  float64       // os_mon.cpu_low_watermark, a fraction: clears it

	MemCheckInterval    time.Duration // os_mon.mem_check_interval
	SysMemHighWatermark float64       // os_mon.sysmem_high_watermark, a fraction (0.7 for 70%)

	AlarmActions        []string      // alarm.actions: log, publish
	AlarmSizeLimit      int           // alarm.size_limit: cleared alarms kept
	AlarmValidityPeriod time.Duration // alarm.validity_period: how long cleared alarms are kept
}
