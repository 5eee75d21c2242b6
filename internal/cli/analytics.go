package cli

import (
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/gctune"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

func workerCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Write click analytics from Redis to PostgreSQL",
		Long: `Read the click batches that servers append to the Redis Stream (under
--redis-key-prefix), with a consumer group, and write them to PostgreSQL.
Run any number: each click is counted once, and batches a stopped worker
left unfinished are taken over by another after 30 seconds.

It takes the server's settings (--database-url, --redis-url, --geoip-db,
--analytics-honor-dnt, --analytics-visits-retention ...) and serves
/healthz, /readyz and /metrics on --worker-listen. On SIGTERM it finishes
the batches in hand, acknowledges them and exits.`,
		Args: cobra.NoArgs,
	}
	config.AddFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := config.Load(cmd.Flags(), e.environ)
		if err != nil {
			return err
		}
		log := telemetry.NewLogger(e.stdout, cfg.LogFormat, cfg.LogLevel)
		redisconn.SetLogger(log)
		build := telemetry.ReadBuild(Version())
		gc := gctune.Apply(e.environ, gctune.CgroupFiles...)
		log.Info("starting worker", "version", build.Version, "commit", build.Commit, "config", cfg.Redacted(),
			"gogc_set", gc.Percent, "memory_limit_set", gc.Limit)
		w, err := app.NewWorker(cmd.Context(), cfg, log, app.Telemetry{Environ: e.environ, Build: build})
		if err != nil {
			return err
		}
		defer w.Close()
		ln, err := net.Listen("tcp", cfg.WorkerListen)
		if err != nil {
			return fmt.Errorf("worker-listen: %w", err)
		}
		return w.Run(cmd.Context(), ln)
	}
	return cmd
}

func statsCmd(e env) *cobra.Command {
	var f clientFlags
	var since, interval string
	var domain *string
	cmd := &cobra.Command{
		Use:   "stats CODE [--domain HOST] [--since 7d] [--interval hour|day]",
		Short: "Show a link's clicks (needs an API key)",
		Example: `  shortlinks stats launch-2030
  shortlinks stats launch-2030 --since 24h --interval hour`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			var from time.Time
			if since != "" {
				d, err := parseDuration(since)
				if err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				from = time.Now().Add(-d)
			}
			s, err := c.StatsOn(cmd.Context(), *domain, args[0], from, time.Time{}, interval)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, s)
			}
			return printStats(e.stdout, s)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&since, "since", "", "how far back, like 24h, 7d or 90d (default 30d)")
	cmd.Flags().StringVar(&interval, "interval", "", "hour or day (default day)")
	domain = domainFlag(cmd, onDomain)
	return cmd
}

// barWidth is the longest bar printStats draws, in characters.
const barWidth = 40

// printStats writes s for a terminal: totals, a bar per interval and the
// breakdowns.
func printStats(w io.Writer, s httpapi.StatsJSON) error {
	fmt.Fprintf(w, "%s: %d clicks by people, %d by bots, %s to %s (UTC)\n\n", s.Code, s.Clicks, s.BotClicks,
		s.From.Format("2006-01-02 15:04"), s.To.Format("2006-01-02 15:04"))
	var top int64
	for _, p := range s.Series {
		top = max(top, p.Clicks)
	}
	layout := "2006-01-02"
	if s.Interval == analytics.Hour {
		layout = "01-02 15:00"
	}
	for _, p := range s.Series {
		n := 0
		if top > 0 {
			n = int((p.Clicks*barWidth + top - 1) / top)
		}
		fmt.Fprintf(w, "%s %s %d\n", p.Start.Format(layout), strings.Repeat("█", n)+strings.Repeat(" ", barWidth-n), p.Clicks)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, b := range []struct {
		title, none string
		rows        []analytics.Row
	}{
		{"Referrers", "(direct)", s.Referrers}, {"Countries", "(unknown)", s.Countries},
		{"Browsers", "(unknown)", s.Browsers}, {"OS", "(unknown)", s.OS}, {"Devices", "(unknown)", s.Devices},
	} {
		fmt.Fprintf(tw, "\n%s\t\n", b.title)
		if len(b.rows) == 0 {
			fmt.Fprintf(tw, "  (none)\t\n")
		}
		for _, r := range b.rows {
			v := r.Value
			if v == "" {
				v = b.none
			}
			fmt.Fprintf(tw, "  %s\t%d\n", v, r.Clicks)
		}
	}
	return tw.Flush()
}
