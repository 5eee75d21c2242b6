package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/loadtest"
)

// bulkLoadResult is what 'shortlinks seed' reports.
type bulkLoadResult struct {
	Links      int     `json:"links"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
	CodesFile  string  `json:"codes_file,omitempty"`
}

// bulkLoadCmd is 'shortlinks seed': it bulk-loads synthetic links straight
// into the database, where 'shortlinks loadtest' creates them through the
// API of a running server.
func bulkLoadCmd(e env) *cobra.Command {
	var (
		count, batch int
		codesFile    string
		output       string
		randSeed     uint64
	)
	cmd := &cobra.Command{
		Use:   "seed --count N",
		Short: "Bulk-load synthetic links into the database (for load tests)",
		Long: `Bulk-load N synthetic links straight into the configured database, without
a running server: large transactions on SQLite, COPY on PostgreSQL.

Codes come from the same generator the server uses, over the database's own
id counter and code key, so seeded links cannot be told from created ones.
Destination URLs are synthetic but realistic, about 80 bytes each.
--codes-file writes each code and its URL, one link a line, for
'shortlinks loadtest --codes-file' and the benchmarks.`,
		Example: `  shortlinks seed --count 1000000 --codes-file codes.tsv
  shortlinks seed --count 10000000 --database-url postgres://postgres@127.0.0.1/shortlinks`,
		Args: cobra.NoArgs,
	}
	config.AddFlags(cmd.Flags())
	cmd.Flags().IntVar(&count, "count", 0, "how many links to add (required)")
	cmd.Flags().IntVar(&batch, "batch", 50_000, "links per transaction")
	cmd.Flags().StringVar(&codesFile, "codes-file", "", "write the new codes and their URLs to this file")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().Uint64Var(&randSeed, "rand-seed", 1, "seed for the synthetic URLs")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if count <= 0 {
			return errors.New("--count: give how many links to add")
		}
		if batch <= 0 {
			return errors.New("--batch must be positive")
		}
		if output != "text" && output != "json" {
			return fmt.Errorf("--output %q: use text or json", output)
		}
		return withStorage(cmd, e, func(ctx context.Context, db *app.Storage) error {
			loader, err := db.Loader(ctx)
			if err != nil {
				return err
			}
			var codes *bufio.Writer
			if codesFile != "" {
				fh, err := os.Create(codesFile)
				if err != nil {
					return fmt.Errorf("--codes-file: %w", err)
				}
				defer fh.Close()
				codes = bufio.NewWriterSize(fh, 1<<20)
			}

			start := time.Now()
			bar := newProgressBar(e.stderr, count)
			err = bulkLoad(ctx, loader, count, batch, randSeed, func(b []link.Link, done int) error {
				if codes != nil {
					for _, l := range b {
						if err := loadtest.WriteLink(codes, string(l.Code), l.URL); err != nil {
							return fmt.Errorf("--codes-file: %w", err)
						}
					}
				}
				bar.update(done)
				return nil
			})
			bar.finish()
			if err != nil {
				return err
			}
			if codes != nil {
				if err := codes.Flush(); err != nil {
					return fmt.Errorf("--codes-file: %w", err)
				}
			}
			took := time.Since(start)
			res := bulkLoadResult{Links: count, Seconds: took.Seconds(), RowsPerSec: float64(count) / took.Seconds(), CodesFile: codesFile}
			if output == "json" {
				return printJSON(e.stdout, res)
			}
			_, err = fmt.Fprintf(e.stdout, "seeded %d links in %s: %.0f rows/s\n", count, took.Round(time.Millisecond), res.RowsPerSec)
			return err
		})
	}
	return cmd
}

// bulkLoad makes count links with synthetic URLs in batches and loads them
// through loader, which gives them their codes. Making the next batch
// overlaps loading the last one. stored is called after each batch is
// committed, with the total so far.
func bulkLoad(ctx context.Context, loader *link.Loader, count, batch int, randSeed uint64, stored func(b []link.Link, done int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []link.Link, 2)
	go func() {
		defer close(batches)
		rng := rand.New(rand.NewPCG(randSeed, 0x5eed))
		for made := 0; made < count; {
			b := make([]link.Link, min(batch, count-made))
			for i := range b {
				b[i] = link.Link{URL: loadtest.SyntheticURL(rng), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
			}
			made += len(b)
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	done := 0
	for b := range batches {
		if err := loader.Load(ctx, b); err != nil {
			return err
		}
		done += len(b)
		if err := stored(b, done); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// progressBar draws progress on a terminal, or writes a line every few
// seconds to anything else.
type progressBar struct {
	w      io.Writer
	total  int
	done   int
	start  time.Time
	last   time.Time
	tty    bool
	drawn  bool
	period time.Duration
}

func newProgressBar(w io.Writer, total int) *progressBar {
	p := &progressBar{w: w, total: total, start: time.Now(), period: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.period = true, 100*time.Millisecond
		}
	}
	return p
}

func (p *progressBar) update(done int) {
	p.done = done
	if now := time.Now(); now.Sub(p.last) >= p.period || done == p.total {
		p.last = now
		p.draw()
	}
}

func (p *progressBar) draw() {
	elapsed := time.Since(p.start)
	rate := float64(p.done) / max(elapsed.Seconds(), 1e-9)
	frac := float64(p.done) / float64(p.total)
	eta := "-"
	if rate > 0 && p.done < p.total {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	const width = 30
	fill := int(frac * width)
	line := fmt.Sprintf("[%s%s] %3.0f%%  %d/%d links  %.0f rows/s  ETA %s",
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), frac*100, p.done, p.total, rate, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.drawn = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progressBar) finish() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
