package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/config"
)

func loggerConfig(t *testing.T, env ...string) *config.Config {
	t.Helper()
	cfg, _, err := config.Load("", append(env, "EMQX_LOG__DIR="+t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readLog(t *testing.T, cfg *config.Config, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cfg.Log.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLoggerFilesAndLevels checks log.level, log.file and log.<level>.file through the
// asynchronous writers: closing the logger leaves every line in its files.
func TestLoggerFilesAndLevels(t *testing.T) {
	cfg := loggerConfig(t, "EMQX_LOG__TO=file", "EMQX_LOG__LEVEL=info", "EMQX_LOG__FILE=main.log",
		"EMQX_LOG__ERROR__FILE=error.log", "EMQX_LOG__DEBUG__FILE=debug.log")
	log, _, closeLog, err := newLogger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("dbg line")
	log.Info("info line")
	for range 100 {
		log.Warn("warn line")
	}
	log.Error("error line", "cause", "x")
	closeLog()

	main := readLog(t, cfg, "main.log")
	if strings.Contains(main, "dbg line") || !strings.Contains(main, "info line") || strings.Count(main, "warn line") != 100 ||
		!strings.Contains(main, `msg="error line" node=emqx@127.0.0.1 cause=x`) {
		t.Fatalf("main.log:\n%s", main)
	}
	errs := readLog(t, cfg, "error.log")
	if strings.Contains(errs, "warn line") || !strings.Contains(errs, "error line") {
		t.Fatalf("error.log:\n%s", errs)
	}
	// log.level is the floor: the debug file does not get debug lines.
	dbg := readLog(t, cfg, "debug.log")
	if strings.Contains(dbg, "dbg line") || !strings.Contains(dbg, "info line") {
		t.Fatalf("debug.log:\n%s", dbg)
	}
}

func TestLoggerJSON(t *testing.T) {
	cfg := loggerConfig(t, "EMQX_LOG__TO=file", "EMQX_LOG__FORMATTER=json")
	log, _, closeLog, err := newLogger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("hello", "k", 1)
	closeLog()
	var rec map[string]any
	line := strings.TrimSpace(readLog(t, cfg, cfg.Log.File))
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if rec["msg"] != "hello" || rec["node"] != "emqx@127.0.0.1" || rec["level"] != "WARN" {
		t.Fatalf("record %v", rec)
	}
	// The drop report has the same format.
	var rep map[string]any
	if err := json.Unmarshal(logDropReport(true, "n1")(3, time.Now()), &rep); err != nil {
		t.Fatal(err)
	}
	if msg, _ := rep["msg"].(string); !strings.HasPrefix(msg, "log lines dropped under overload: 3 since ") || rep["node"] != "n1" || rep["level"] != "WARN" {
		t.Fatalf("drop report %v", rep)
	}
}
