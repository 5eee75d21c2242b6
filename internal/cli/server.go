package cli

import (
	"context"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
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
		cfg, err := config.Load(cmd.Flags(), e.environ)
		if err != nil {
			return err
		}
		// The server's output is its log, on stdout, as log shippers
		// expect of a container.
		log := telemetry.NewLogger(e.stdout, cfg.LogFormat, cfg.LogLevel)
		redisconn.SetLogger(log)
		build := telemetry.ReadBuild(Version())
		log.Info("starting", "version", build.Version, "commit", build.Commit, "config", cfg.Redacted())
		a, err := app.New(cmd.Context(), cfg, log, app.Telemetry{Environ: e.environ, Build: build})
		if err != nil {
			return err
		}
		defer a.Close()
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

func apikeyCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Create, list and revoke API keys (works on the database directly)",
	}
	// The key commands open the database alone, prepared as serve would
	// prepare it.
	withKeys := func(c *cobra.Command, fn func(ctx context.Context, svc *apikey.Service) error) error {
		cfg, err := config.Load(c.Flags(), e.environ)
		if err != nil {
			return err
		}
		log := telemetry.NewLogger(e.stderr, cfg.LogFormat, "warn")
		db, err := app.OpenStorage(c.Context(), cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Prepare(c.Context()); err != nil {
			return err
		}
		return fn(c.Context(), db.Keys())
	}

	var name string
	var admin bool
	create := &cobra.Command{
		Use:   "create --name NAME [--admin]",
		Short: "Create a key and print it once",
		Long:  "Create an API key. The key is printed once and only its hash is stored.\nAn admin key sees and deletes every link; other keys only their own.",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withKeys(c, func(ctx context.Context, svc *apikey.Service) error {
				k, token, err := svc.Create(ctx, name, admin)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "created key %d (%s); store it now, it cannot be shown again:\n", k.ID, k.Name)
				fmt.Fprintln(e.stdout, token)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	create.Flags().BoolVar(&admin, "admin", false, "let the key see and delete every link")
	create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withKeys(c, func(ctx context.Context, svc *apikey.Service) error {
				keys, err := svc.List(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tADMIN\tCREATED\tSTATUS")
				for _, k := range keys {
					status := "active"
					if !k.RevokedAt.IsZero() {
						status = "revoked " + k.RevokedAt.Format("2006-01-02 15:04:05Z07:00")
					}
					fmt.Fprintf(tw, "%d\t%s\t%s…\t%t\t%s\t%s\n", k.ID, k.Name, k.Prefix, k.Admin, k.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), status)
				}
				return tw.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key; the links it made stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var id int64
			if _, err := fmt.Sscan(args[0], &id); err != nil {
				return fmt.Errorf("key id %q is not a number; see 'shortlinks apikey list'", args[0])
			}
			return withKeys(c, func(ctx context.Context, svc *apikey.Service) error {
				if err := svc.Revoke(ctx, id); err != nil {
					return fmt.Errorf("revoke key %d: %w", id, err)
				}
				fmt.Fprintf(e.stdout, "revoked key %d\n", id)
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		config.AddFlags(c.Flags())
	}
	cmd.AddCommand(create, list, revoke)
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
