package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/loadtest"
)

func loadtestCmd(e env) *cobra.Command {
	var f clientFlags
	var (
		seed, seedConcurrency int
		codesFile, mix, html  string
		o                     loadtest.Options
		progress              bool
	)
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Drive a running server with redirects and creates, and report latency",
		Long: `Drive a running Shortlinks server with a mix of redirects and creates, at a
fixed rate or flat out, for a bounded time, and report throughput and latency
percentiles per kind of request. Redirects are not followed: the server's own
redirect answer is what is timed. Codes are drawn from a Zipf distribution
over the codes given, the first code the most popular.

Codes come from --seed N (links created through the API first), from
--codes-file (as written by 'shortlinks seed --codes-file'), or both.

Link creation is rate-limited per client address by default, so creates from
one load generator soon get 429 answers. Either start the server with
--rate-limit-create 0, or start it with --trusted-proxies 127.0.0.1 and pass
--client-addrs 65536 here: creates then carry X-Forwarded-For from that many
synthetic clients (198.18.0.0/15, the range set aside for benchmarks), and the
rate limiter stays in the measured path.

Progress goes to stderr once a second; the report to stdout.`,
		Example: `  shortlinks serve --rate-limit-create 0 &
  shortlinks loadtest --seed 10000 --rate 2000 --duration 30s --html report.html
  shortlinks loadtest --codes-file codes.tsv --mix 1:0 --rate 0 --workers 32 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// client checks the flags and applies the environment's defaults.
			if _, err := f.client(e); err != nil {
				return err
			}
			o.Server, o.APIKey = f.target(e)
			var err error
			if o.Redirects, o.Creates, err = loadtest.ParseMix(mix); err != nil {
				return fmt.Errorf("--mix: %w", err)
			}
			if codesFile != "" {
				fh, err := os.Open(codesFile)
				if err != nil {
					return fmt.Errorf("--codes-file: %w", err)
				}
				codes, err := loadtest.ReadCodes(fh)
				fh.Close()
				if err != nil {
					return fmt.Errorf("--codes-file %s: %w", codesFile, err)
				}
				o.Codes = codes
			}
			if seed > 0 {
				start := time.Now()
				fmt.Fprintf(e.stderr, "seeding %d links through %s\n", seed, o.Server)
				codes, err := loadtest.CreateLinks(cmd.Context(), loadtest.CreateOptions{
					Server: o.Server, APIKey: o.APIKey, Count: seed, Concurrency: seedConcurrency,
					ClientAddrs: o.ClientAddrs, RandSeed: o.RandSeed, Timeout: o.Timeout,
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "seeded %d links in %s\n", len(codes), time.Since(start).Round(time.Millisecond))
				o.Codes = append(o.Codes, codes...)
			}
			if progress {
				o.Progress = e.stderr
			}
			rep, err := loadtest.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if html != "" {
				if err := writeFile(html, rep.WriteHTML); err != nil {
					return fmt.Errorf("--html: %w", err)
				}
				fmt.Fprintf(e.stderr, "wrote %s\n", html)
			}
			if f.output == "json" {
				return printJSON(e.stdout, rep)
			}
			return rep.WriteText(e.stdout)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.IntVar(&seed, "seed", 0, "create this many links through the API before the run and use their codes")
	fl.IntVar(&seedConcurrency, "seed-concurrency", 8, "creates in flight at once while seeding")
	fl.StringVar(&codesFile, "codes-file", "", "file of codes to redirect, one per line (as 'shortlinks seed --codes-file' writes)")
	fl.StringVar(&mix, "mix", "100:1", "redirects per create, as R or R:C; 1:0 is redirects only, 0:1 creates only")
	fl.IntVar(&o.Rate, "rate", 1000, "requests per second; 0 sends as fast as --workers allow")
	fl.IntVar(&o.Workers, "workers", 32, "requests in flight at most, each on its own connection")
	fl.IntVar(&o.MaxWorkers, "max-workers", 0, "with --rate: let this many requests be in flight when the server falls behind (default: --workers)")
	fl.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send requests")
	fl.Float64Var(&o.ZipfS, "zipf-s", 1.1, "Zipf exponent s (> 1; higher: a few codes get most traffic); 0 picks codes uniformly")
	fl.Float64Var(&o.ZipfV, "zipf-v", 1, "Zipf offset v (>= 1; higher flattens the head)")
	fl.Uint64Var(&o.RandSeed, "rand-seed", 1, "seed for the choice of codes and URLs, for repeatable runs")
	fl.IntVar(&o.ClientAddrs, "client-addrs", 0, "send creates with X-Forwarded-For from this many synthetic clients (server must trust this address)")
	fl.DurationVar(&o.Timeout, "timeout", 10*time.Second, "deadline for each request")
	fl.StringVar(&html, "html", "", "also write the report as an HTML page with charts to this file")
	fl.BoolVar(&progress, "progress", true, "print a progress line to stderr every second")
	return cmd
}

// target is the server and API key that client would use.
func (f *clientFlags) target(e env) (server, key string) {
	server, key = f.server, f.apiKey
	if server == "" {
		server = e.get("SHORTLINKS_SERVER")
	}
	if server == "" {
		server = "http://localhost:8080"
	}
	if key == "" {
		key = e.get("SHORTLINKS_API_KEY")
	}
	return server, key
}

// writeFile writes a file through fn, reporting a failed close.
func writeFile(path string, fn func(w io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
