// Package cli is the shortlinks command line: the server, its maintenance
// commands, and a client for a running server's API.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/environ"
)

// version is set at build time with -ldflags "-X .../internal/cli.version=v1.2.3".
var version = ""

// Version reports the build's version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// env is the process environment, injected so tests can run commands side
// by side.
type env struct {
	stdin          io.Reader // nil: none
	stdout, stderr io.Writer
	environ        []string
}

func (e env) get(name string) string { return environ.Get(e.environ, name) }

// Run runs the command line args (without the program name) and returns
// the error to report, if any.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	return RunWithInput(ctx, args, os.Stdin, stdout, stderr, environ)
}

// RunWithInput is Run with stdin as standard input, from which commands
// read passwords.
func RunWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	root := &cobra.Command{
		Use:   "shortlinks",
		Short: "Shortlinks shortens URLs and redirects short links",
		Long: `Shortlinks shortens URLs and redirects short links.

With no configuration, 'shortlinks serve' runs everything in one process on
an embedded SQLite database. The client commands (shorten, edit, info, delete, list)
talk to a running server over its API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(
		serveCmd(e),
		migrateCmd(e),
		shortenCmd(e),
		editCmd(e),
		infoCmd(e),
		deleteCmd(e),
		listCmd(e),
		apikeyCmd(e), auditCmd(e), reportsCmd(e),
		userCmd(e),
		versionCmd(e),
		loadtestCmd(e), bulkLoadCmd(e),
		importCmd(e), exportCmd(e),
		healthcheckCmd(e),
		backupCmd(e), restoreCmd(e),
		workerCmd(e), statsCmd(e),
		domainCmd(e),
	)
	return root.ExecuteContext(ctx)
}

func versionCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, "shortlinks", Version())
			return err
		},
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
