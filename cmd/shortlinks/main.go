// Command shortlinks is the Shortlinks URL shortener: server and client.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/shortlinks/shortlinks/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shortlinks:", err)
		os.Exit(1)
	}
}
