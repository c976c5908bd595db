// Command emqx runs the broker node: `emqx foreground` in the terminal, `emqx start` in the
// background, `emqx stop` to stop it gracefully and `emqx ping` to check it answers, as
// EMQX's bin/emqx does.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"
)

type cli struct {
	Config string `short:"c" name:"config" help:"Path of emqx.conf; the embedded default when empty." type:"path" env:"EMQX_CONF"`
	Home   string `name:"home" help:"Node home: relative paths of the configuration resolve against it (node.home). Default: the directory above this binary's bin/, else the working directory." type:"path"`

	Foreground  foregroundCmd  `cmd:"" help:"Run the node in the foreground."`
	Start       startCmd       `cmd:"" help:"Start the node in the background."`
	Stop        stopCmd        `cmd:"" help:"Stop the running node gracefully."`
	Ping        pingCmd        `cmd:"" help:"Check that the node is running (prints pong)."`
	Version     versionCmd     `cmd:"" help:"Print the broker version."`
	CheckConfig checkConfigCmd `cmd:"" name:"check_config" help:"Load and check the configuration, then exit."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c,
		kong.Name("emqx"),
		kong.Description("emqgo, an EMQX-class MQTT broker."),
		kong.UsageOnError(),
	)
	if err := ctx.Run(&c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
