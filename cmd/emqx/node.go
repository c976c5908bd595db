package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	nodehome "github.com/emqgo/emqgo/cmd/internal/home"
	"github.com/emqgo/emqgo/cmd/internal/plugins"
	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/ctl"
	"github.com/emqgo/emqgo/engine/logging"
	"github.com/emqgo/emqgo/engine/service/banned"
	"github.com/emqgo/emqgo/engine/service/gcpace"
	"github.com/emqgo/emqgo/engine/service/memreclaim"
	"github.com/emqgo/emqgo/engine/service/procboost"
)

// loadConfig loads emqx.conf (or the embedded default) with the environment overrides, its
// relative paths resolved against the node's home: --home, else node.home (file or
// EMQX_NODE__HOME), else the directory above the binary's bin/ or the working directory.
func loadConfig(c *cli) (*config.Config, []config.Notice, error) {
	env := os.Environ()
	if c.Home != "" {
		env = append(env, config.EnvPrefix+"NODE__HOME="+c.Home) // the flag beats file and environment
	}
	cfg, notices, err := config.LoadAt(c.Config, env, nodehome.Default())
	if err != nil {
		return nil, nil, fmt.Errorf("configuration error:\n%w", err)
	}
	return cfg, notices, nil
}

type foregroundCmd struct {
	Pprof string `name:"pprof" placeholder:"HOST:PORT" env:"EMQX_PPROF" help:"Serve net/http/pprof on this loopback address (profiling; off when empty)."`
}

func (f foregroundCmd) Run(c *cli) error {
	cfg, notices, err := loadConfig(c)
	if err != nil {
		return err
	}
	if f.Pprof != "" {
		stopProf, err := servePprof(f.Pprof)
		if err != nil {
			return err
		}
		defer stopProf()
	}
	log, levels, closeLog, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer closeLog()
	ecfg, skipped, err := wire.FromConfig(cfg)
	if err != nil {
		return fmt.Errorf("configuration error: %w", err)
	}
	logStartupNotices(log, cfg, notices, skipped)
	logPaths(log, c.Config, cfg, ecfg.ACL)
	if cfg.Persistence.Enable {
		st, err := openStore(cfg, log)
		if err != nil {
			return err
		}
		ecfg.Store = st
		defer st.Close() // after node.Stop, which closed it already; covers early returns
	}
	node, err := engine.New(ecfg, log)
	if err != nil {
		return err
	}
	clu, err := newCluster(node, cfg, log)
	if err != nil {
		return err
	}
	sessions, err := openAdmins(cfg)
	if err != nil {
		return err
	}
	api := &lateHandler{}
	plug, err := startPlugins(node, cfg, log, &plugins.DashboardEnv{API: api, Sessions: sessions})
	if err != nil {
		return err
	}
	defer plug.Close()
	node.AddMetrics(plug.Metrics) // the plugins' counters in emqx_ctl metrics and /metrics
	bans, err := banned.Open(node, filepath.Join(cfg.Node.DataDir, "banned.json"), log)
	if err != nil {
		return err
	}
	defer bans.Close()
	apps, err := openApps(cfg)
	if err != nil {
		return err
	}
	ctlSrv := ctl.NewServer()
	stop := make(chan string, 1)
	registerCommands(ctlSrv, node, cfg, levels, stop)
	registerPluginCommands(ctlSrv, plug)
	ctlSrv.Register("banned", bans.Command, ctl.Usage["banned"]...)
	ctlSrv.Register("mgmt", apps.Command, ctl.Usage["mgmt"]...)
	ctlSrv.Register("admins", sessions.Admins().Command, ctl.Usage["admins"]...)
	if err := ctlSrv.Listen(cfg.Node.DataDir); err != nil {
		return err
	}
	defer ctlSrv.Close()
	// Caught from before the listeners open: a SIGTERM during the rest of start-up waits for
	// it and then stops the node gracefully, instead of killing the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if err := node.Start(); err != nil {
		return err
	}
	// Heap memory back to the OS after busy periods (engine/service/memreclaim).
	reclaim := memreclaim.Start(node, memreclaim.Options{Log: log})
	defer reclaim.Stop()
	// Fewer collections while the node allocates fast (engine/service/gcpace).
	if cfg.Node.GCMaxRate > 0 {
		// A zero MaxExtra is the package's default (64 MiB); node.gc_max_extra_heap = 0
		// means none, so it becomes one byte.
		pacer := gcpace.Start(node, gcpace.Options{MaxRate: float64(cfg.Node.GCMaxRate), MaxExtra: uint64(max(cfg.Node.GCMaxExtraHeap, 1)), Log: log})
		defer pacer.Stop()
	} else {
		log.Info("GC pacing off (node.gc_max_rate = 0)")
	}
	// More Go processors during authentication storms (engine/service/procboost).
	if cfg.Node.AuthStormProcs > 0 {
		boost := procboost.Start(node, procboost.Options{Share: cfg.Node.AuthStormProcs, Log: log})
		defer boost.Stop()
	} else {
		log.Info("no extra processors for authentication storms (node.auth_storm_procs = 0%)")
	}
	closeRPC := func() {}
	if clu != nil {
		err := startCluster(ctlSrv, node, clu, log)
		if err == nil {
			closeRPC, err = listenRPC(node, cfg, log)
		}
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			clu.Close()
			node.Stop(ctx)
			return err
		}
		defer clu.Close() // also closed below, before the node
	}
	sysSvc := startSys(ctlSrv, node, cfg, log, clusterNodes(clu), clusterDistPorts(cfg, clu))
	defer sysSvc.Stop() // also stopped below, before the node
	// Backend outages and bridge backlogs of the plugins raise alarms there (and stop doing so
	// before it stops).
	plug.SetAlarms(sysSvc)
	defer plug.SetAlarms(nil)
	traceSvc := startTrace(ctlSrv, node, cfg, log)
	defer traceSvc.Close() // also closed below, before the node
	stopAPI, err := startHTTPAPI(node, cfg, log, apiDeps{apps: apps, sys: sysSvc, plugins: plug, sessions: sessions, mount: api, cluster: clu})
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		node.Stop(ctx)
		return err
	}
	if err := writePidFile(cfg.Node.DataDir); err != nil {
		log.Warn("cannot write pid file", "error", err)
	}
	defer os.Remove(pidPath(cfg.Node.DataDir))
	fmt.Printf("%s %s is running now!\n", "emqgo", engine.Version)
	log.Info("node started", "version", engine.Version) // the logger already says node=

	var why string
	select {
	case s := <-sigs:
		why = "signal " + s.String()
	case why = <-stop:
	}
	log.Info("node stopping", "cause", why)
	sysSvc.Stop()
	traceSvc.Close()
	stopBridges(plug) // before the node: no remote message arrives into a stopping node
	closeRPC()
	if clu != nil {
		clu.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stopAPI(ctx)
	if err := node.Stop(ctx); err != nil {
		log.Error("node did not stop cleanly", "error", err)
		return err
	}
	log.Info("node stopped")
	return nil
}

// newLogger builds the node's logger from log.* keys: log.to = file|console|both|off,
// log.level in EMQX's names, files rotated by size, log.<level>.file extra files that take one
// level and above, log.formatter text or json. Every destination sits behind its own
// logging.Writer, so a log call formats the line and queues it but never waits on a disk or a
// full stderr pipe (an event loop logs a refused client this way); lines that find a full
// queue are dropped and reported in the log. Each handler's level and the primary level in
// front of them are runtime levels (logLevels, for `emqx_ctl log`). The returned function
// drains the queues and closes the files: call it last.
func newLogger(cfg *config.Config) (*slog.Logger, *logLevels, func(), error) {
	json := cfg.Log.Formatter == "json"
	var writers []*logging.Writer
	var files []*lumberjack.Logger
	closeAll := func() {
		for _, w := range writers {
			w.Close()
		}
		for _, f := range files {
			f.Close()
		}
	}
	async := func(out io.Writer) io.Writer {
		w := logging.New(out, logging.Options{Report: logDropReport(json, cfg.Node.Name)})
		writers = append(writers, w)
		return w
	}
	file := func(name string) (io.Writer, error) {
		if err := os.MkdirAll(cfg.Log.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("cannot create log directory %q (log.dir): %w", cfg.Log.Dir, err)
		}
		lj := &lumberjack.Logger{Filename: filepath.Join(cfg.Log.Dir, name)}
		if cfg.Log.Rotation {
			lj.MaxSize = int(max(cfg.Log.RotationSize>>20, 1))
			lj.MaxBackups = cfg.Log.RotationCount
		}
		files = append(files, lj)
		return async(lj), nil
	}
	runLevels := newLogLevels(cfg.Log.Level)
	newHandler := func(w io.Writer, level *slog.LevelVar) slog.Handler {
		opts := &slog.HandlerOptions{Level: level}
		if json {
			return slog.NewJSONHandler(w, opts)
		}
		return slog.NewTextHandler(w, opts)
	}

	var ws []io.Writer
	var dests []string
	to := cfg.Log.To
	if to == "console" || to == "both" {
		ws = append(ws, async(os.Stderr))
		dests = append(dests, "console")
	}
	if to == "file" || to == "both" {
		w, err := file(cfg.Log.File)
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		ws = append(ws, w)
		dests = append(dests, filepath.Join(cfg.Log.Dir, cfg.Log.File))
	}
	var handlers []slog.Handler
	if len(ws) > 0 {
		// One handler formats each line once; each destination queues its own copy.
		lv := runLevels.add("default", strings.Join(dests, ","), cfg.Log.Level)
		handlers = append(handlers, newHandler(io.MultiWriter(ws...), lv))
	}
	if to != "off" {
		levels := make([]string, 0, len(cfg.Log.LevelFiles))
		for lv := range cfg.Log.LevelFiles {
			levels = append(levels, lv)
		}
		slices.Sort(levels)
		for _, lv := range levels {
			w, err := file(cfg.Log.LevelFiles[lv])
			if err != nil {
				closeAll()
				return nil, nil, nil, err
			}
			// As in EMQX, log.level (the primary level) is the floor of every handler.
			hv := runLevels.add(lv, filepath.Join(cfg.Log.Dir, cfg.Log.LevelFiles[lv]), lv)
			handlers = append(handlers, newHandler(w, hv))
		}
	}
	var h slog.Handler = slog.DiscardHandler
	switch len(handlers) {
	case 0:
	case 1:
		h = handlers[0]
	default:
		h = slog.NewMultiHandler(handlers...)
	}
	if len(handlers) > 0 {
		h = primaryFilter{level: &runLevels.primary, next: h}
	}
	return slog.New(h).With("node", cfg.Node.Name), runLevels, closeAll, nil
}

// logDropReport formats the line a logging.Writer adds when it dropped lines, in the log's
// format and with the logger's node attribute.
func logDropReport(json bool, node string) func(uint64, time.Time) []byte {
	return func(n uint64, since time.Time) []byte {
		var b bytes.Buffer
		var h slog.Handler
		if json {
			h = slog.NewJSONHandler(&b, nil)
		} else {
			h = slog.NewTextHandler(&b, nil)
		}
		slog.New(h).Warn(string(logging.AppendReportMessage(nil, n, since)), "node", node)
		return b.Bytes()
	}
}

func slogLevel(l string) slog.Level {
	switch l {
	case "debug":
		return slog.LevelDebug
	case "info", "notice":
		return slog.LevelInfo
	case "warning":
		return slog.LevelWarn
	default: // error, critical, alert, emergency
		return slog.LevelError
	}
}

func pidPath(dataDir string) string { return filepath.Join(dataDir, "emqx.pid") }

func writePidFile(dataDir string) error {
	return os.WriteFile(pidPath(dataDir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func readPid(dataDir string) (int, error) {
	b, err := os.ReadFile(pidPath(dataDir))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

type startCmd struct {
	Wait time.Duration `default:"20s" help:"How long to wait for the node to answer."`
}

func (s startCmd) Run(c *cli) error {
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	if _, err := ctl.Call(context.Background(), cfg.Node.DataDir, []string{"ping"}); err == nil {
		return fmt.Errorf("node %s is already running", cfg.Node.Name)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Log.Dir, 0o750); err != nil {
		return fmt.Errorf("cannot create log directory %q: %w", cfg.Log.Dir, err)
	}
	// Whatever the process prints outside the logger (a panic, say) goes here.
	out, err := os.OpenFile(filepath.Join(cfg.Log.Dir, "emqx.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	args := []string{"foreground"}
	if c.Config != "" {
		args = append([]string{"-c", c.Config}, args...)
	}
	if c.Home != "" {
		args = append([]string{"--home", c.Home}, args...)
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start the node: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(s.Wait)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("the node exited during start-up (%v); see %s", err, filepath.Join(cfg.Log.Dir, "emqx.out"))
		case <-time.After(100 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := ctl.Call(ctx, cfg.Node.DataDir, []string{"ping"})
		cancel()
		if err == nil {
			fmt.Printf("emqgo %s is started successfully!\n", engine.Version)
			return nil
		}
	}
	return fmt.Errorf("the node did not answer within %s; see %s", s.Wait, cfg.Log.Dir)
}

type stopCmd struct {
	Wait time.Duration `default:"30s" help:"How long to wait for the node to exit."`
}

func (s stopCmd) Run(c *cli) error {
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	dir := cfg.Node.DataDir
	pid, pidErr := readPid(dir)
	if _, err := ctl.Call(context.Background(), dir, []string{"stop"}); err != nil {
		if pidErr != nil || syscall.Kill(pid, syscall.SIGTERM) != nil {
			return fmt.Errorf("node %s is not running", cfg.Node.Name)
		}
	}
	deadline := time.Now().Add(s.Wait)
	for time.Now().Before(deadline) {
		_, err := ctl.Call(context.Background(), dir, []string{"ping"})
		gone := pidErr != nil || syscall.Kill(pid, 0) != nil
		if err != nil && errors.Is(err, ctl.ErrNodeDown) && gone {
			fmt.Println("ok")
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("node %s did not stop within %s", cfg.Node.Name, s.Wait)
}

type pingCmd struct{}

func (pingCmd) Run(c *cli) error {
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := ctl.Call(ctx, cfg.Node.DataDir, []string{"ping"})
	if err != nil {
		// The wording of EMQX's bin/emqx ping, on stderr, exit status 1.
		fmt.Fprintf(os.Stderr, "Node '%s' not responding to pings.\n", cfg.Node.Name)
		os.Exit(1)
	}
	fmt.Print(resp.Output)
	return nil
}

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println("emqgo", engine.Version)
	return nil
}

type checkConfigCmd struct{}

func (checkConfigCmd) Run(c *cli) error {
	cfg, notices, err := loadConfig(c)
	if err != nil {
		return err
	}
	_, skipped, err := wire.FromConfig(cfg)
	if err != nil {
		return err
	}
	if _, _, err := wire.HTTPSAPI(cfg); err != nil {
		return err // the API's certificate pair, CAs, versions and ciphers
	}
	for _, n := range notices {
		if n.Owner == "" {
			fmt.Println("note:", n.String())
		}
	}
	if sum := config.NoEffectSummary(notices); sum != "" {
		fmt.Println("warning: configuration keys accepted without effect:", sum)
	}
	for _, u := range unserved(cfg, skipped) {
		fmt.Printf("warning: %s (%s) %s\n", u[0], u[1], notServed)
	}
	fmt.Println("config is OK")
	return nil
}
