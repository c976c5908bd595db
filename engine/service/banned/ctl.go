package banned

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/ctl"
)

func usage() (string, int) { return strings.Join(ctl.Usage["banned"], "\n") + "\n", 1 }

// Command is the handler of `emqx_ctl banned`: args without the command name; output and
// exit status. Safe for concurrent use.
func (s *Store) Command(args []string) (string, int) {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "list":
		if len(args) != 1 {
			return usage()
		}
		var b strings.Builder
		for _, ban := range s.n.Bans() {
			until := "infinity"
			if !ban.Until.IsZero() {
				until = ban.Until.Format(time.RFC3339)
			}
			b.WriteString("Banned(type=" + ban.Kind.String() + ", value=" + ban.Value + ", reason=" + ban.Reason +
				", by=" + ban.By + ", at=" + ban.At.Format(time.RFC3339) + ", until=" + until + ")\n")
		}
		return b.String(), 0
	case "add", "del":
	default:
		return usage()
	}
	opts := map[string]string{}
	for _, a := range args[1:] {
		k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			return "bad argument " + strconv.Quote(a) + ": expected --name=value\n", 1
		}
		opts[k] = v
	}
	kind, ok := engine.ParseBanKind(opts["type"])
	if !ok {
		return "--type must be client_id, username or ip_address, got " + strconv.Quote(opts["type"]) + "\n", 1
	}
	value, ok := engine.NormalizeBanValue(kind, opts["value"])
	if !ok {
		return "--value " + strconv.Quote(opts["value"]) + " is not a valid " + kind.String() + "\n", 1
	}
	if args[0] == "del" {
		for k := range opts {
			if k != "type" && k != "value" {
				return "unknown option --" + k + "\n", 1
			}
		}
		if !s.n.DeleteBan(kind, value) {
			return "Not found.\n", 1
		}
		return s.flushed()
	}
	now := time.Now()
	ban := engine.Ban{Kind: kind, Value: value, By: opts["by"], Reason: opts["reason"], At: now}
	for k, v := range opts {
		switch k {
		case "type", "value", "by", "reason":
		case "until":
			t, err := parseUntil(v, now)
			if err != nil {
				return "--until " + strconv.Quote(v) + ": " + err.Error() + "\n", 1
			}
			ban.Until = t
		default:
			return "unknown option --" + k + "\n", 1
		}
	}
	if ban.By == "" {
		ban.By = "emqx_ctl"
	}
	if ban.Expired(now) {
		return "--until is in the past\n", 1
	}
	s.n.AddBan(ban)
	return s.flushed()
}

func (s *Store) flushed() (string, int) {
	if err := s.Flush(); err != nil {
		return "done, but the banned table could not be written (it holds until restart): " + err.Error() + "\n", 1
	}
	return "ok\n", 0
}

// parseUntil reads a Unix time in seconds, an RFC 3339 time, or a duration from now.
func parseUntil(v string, now time.Time) (time.Time, error) {
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(sec, 0), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, errors.New("expected a Unix time in seconds, an RFC 3339 time or a duration such as 5m")
	}
	return now.Add(d), nil
}
