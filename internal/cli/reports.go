package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
)

func reportsCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reports",
		Short: "List and resolve abuse reports (works on the database directly)",
	}
	var status string
	var limit int
	list := &cobra.Command{
		Use:   "list [--status open|resolved|all] [--limit N]",
		Short: "List abuse reports, newest first",
		Example: `  shortlinks reports list
  shortlinks reports list --status all --limit 200`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := report.ParseStatus(status)
			if err != nil {
				return fmt.Errorf("--status: %w", err)
			}
			return withStorage(c, e, func(ctx context.Context, db *app.Storage) error {
				page, err := db.Reports(nil, nil).List(ctx, account.Operator, st, 0, limit)
				if err != nil {
					return err
				}
				// A report about a link on a branded domain names it as
				// host/code, since an alias may be on several domains.
				doms, err := db.Domains(ctx, slog.New(slog.DiscardHandler))
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCREATED\tCODE\tREASON\tSTATUS\tCONTACT\tDETAILS")
				for _, r := range page.Reports {
					st := string(r.Status())
					if r.Status() == report.Resolved {
						st += " " + r.ResolvedAt.Format(timeLayout) + ": " + oneLine(r.Note, 60)
					}
					code := string(r.Code)
					if r.Domain != link.DefaultDomain {
						code = doms.Host(r.Domain) + "/" + code
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.CreatedAt.Format(timeLayout), code, r.Reason,
						st, dash(r.Contact), dash(oneLine(r.Details, 80)))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if page.Next != 0 {
					fmt.Fprintf(e.stderr, "more reports: raise --limit to see them\n")
				}
				return nil
			})
		},
	}
	list.Flags().StringVar(&status, "status", "open", "open, resolved or all")
	list.Flags().IntVar(&limit, "limit", report.DefaultPageSize, fmt.Sprintf("how many reports, up to %d", report.MaxPageSize))

	var note string
	resolve := &cobra.Command{
		Use:   "resolve ID --note TEXT",
		Short: "Resolve a report, saying what was done; recorded in the audit log",
		Example: `  shortlinks reports resolve 7 --note "Phishing page; link disabled"
  shortlinks reports resolve 8 --note "Not abuse: the destination is the sender's own shop"`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var id int64
			if _, err := fmt.Sscan(args[0], &id); err != nil {
				return fmt.Errorf("report id %q is not a number; see 'shortlinks reports list'", args[0])
			}
			return withStorage(c, e, func(ctx context.Context, db *app.Storage) error {
				r, err := db.Reports(nil, nil).Resolve(ctx, account.Operator, id, note)
				if err != nil {
					return fmt.Errorf("resolve report %d: %w", id, err)
				}
				fmt.Fprintf(e.stdout, "resolved report %d about %s\n", r.ID, r.Code)
				return nil
			})
		},
	}
	resolve.Flags().StringVar(&note, "note", "", "what was done about it (required)")
	resolve.MarkFlagRequired("note")
	for _, c := range []*cobra.Command{list, resolve} {
		config.AddFlags(c.Flags())
	}
	cmd.AddCommand(list, resolve)
	return cmd
}

// oneLine shortens s to one line of at most n characters for a table.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
