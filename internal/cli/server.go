package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/gctune"
	"github.com/shortlinks/shortlinks/internal/liveconfig"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

func serveCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		Long: `Run the server: the API, the redirects and the web page.

Settings come from flags, then SHORTLINKS_* environment variables, then the
YAML file named by --config, then defaults, in that order of precedence.`,
		Args: cobra.NoArgs,
	}
	config.AddFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		// The configuration is reloaded while the server runs (the file,
		// SIGHUP, etcd); the settings marked live change without a restart.
		level := new(slog.LevelVar)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		w := liveconfig.New(liveconfig.Options{
			Load: func(over map[string]string) (config.Config, error) {
				return config.LoadOver(cmd.Flags(), e.environ, over)
			},
			File:    config.File(cmd.Flags(), e.environ),
			Signals: hup,
		})
		cfg, err := w.Start(cmd.Context())
		if err != nil {
			return err
		}
		// The server's output is its log, on stdout, as log shippers
		// expect of a container.
		telemetry.SetLevel(level, cfg.LogLevel)
		log := telemetry.NewLevelLogger(e.stdout, cfg.LogFormat, level)
		redisconn.SetLogger(log)
		build := telemetry.ReadBuild(Version())
		gc := gctune.Apply(e.environ, gctune.CgroupFiles...)
		log.Info("starting", "version", build.Version, "commit", build.Commit, "config", cfg.Redacted(),
			"gogc_set", gc.Percent, "memory_limit_set", gc.Limit)
		a, err := app.New(cmd.Context(), cfg, log, app.Telemetry{Environ: e.environ, Build: build, LogLevel: level})
		if err != nil {
			return err
		}
		defer a.Close()
		if err := a.Watch(w); err != nil {
			return err
		}
		if err := a.Run(cmd.Context()); err != nil {
			return err
		}
		log.Info("stopped")
		return nil
	}
	return cmd
}

func migrateCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations",
		Args:  cobra.NoArgs,
	}
	config.AddFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := config.Load(cmd.Flags(), e.environ)
		if err != nil {
			return err
		}
		db, err := app.OpenStorage(cmd.Context(), cfg, nil)
		if err != nil {
			return err
		}
		defer db.Close()
		before, _, err := db.SchemaVersion(cmd.Context())
		if err != nil {
			return err
		}
		if err := db.Migrate(cmd.Context()); err != nil {
			return err
		}
		after, _, err := db.SchemaVersion(cmd.Context())
		if err != nil {
			return err
		}
		if after == before {
			fmt.Fprintf(e.stdout, "schema is up to date at version %d\n", after)
		} else {
			fmt.Fprintf(e.stdout, "migrated schema from version %d to %d\n", before, after)
		}
		return nil
	}
	return cmd
}

func healthcheckCmd(e env) *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when a server answers its readiness check",
		Long: `Ask a running server whether it is ready (GET /readyz by default) and exit 0
when it answers 200, 1 otherwise. For container healthchecks where the image
has no shell or curl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s", url, resp.Status)
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", url, resp.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/readyz", "what to ask")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}
