// Package home finds the node's home directory the same way for bin/emqx and bin/emqx_ctl, so
// that both agree on the data directory and the control socket.
package home

import (
	"os"
	"path/filepath"

	"github.com/emqgo/emqgo/engine/config"
)

// Default is the home when neither --home nor node.home says: the directory above the
// running binary's bin/ (EMQX's release layout), else the working directory (see
// config.DefaultHome).
func Default() string {
	wd, _ := os.Getwd()
	exe, err := os.Executable()
	if err != nil {
		return wd
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return config.DefaultHome(exe, wd)
}
