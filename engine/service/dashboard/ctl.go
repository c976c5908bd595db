package dashboard

import (
	"strings"

	"github.com/emqgo/emqgo/engine/ctl"
)

// Command is the handler of `emqx_ctl admins add|passwd|del`: args without the command
// name; output and exit status. Replies are EMQX's ("ok", "Error: already existed"...).
// Safe for concurrent use.
func (a *Admins) Command(args []string) (string, int) {
	usage := strings.Join(ctl.Usage["admins"], "\n") + "\n"
	reply := func(err error) (string, int) {
		if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		return "ok\n", 0
	}
	switch {
	case len(args) == 3 && args[0] == "add":
		return reply(a.Add(args[1], args[2], ""))
	case len(args) == 4 && args[0] == "add":
		return reply(a.Add(args[1], args[2], args[3]))
	case len(args) == 3 && args[0] == "passwd":
		return reply(a.SetPassword(args[1], args[2]))
	case len(args) == 2 && args[0] == "del":
		return reply(a.Delete(args[1]))
	}
	return usage, 1
}
