package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/config"
)

func auditCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log of administrators' actions (works on the database directly)",
	}
	var limit int
	var action string
	list := &cobra.Command{
		Use:   "list [--limit N] [--action A]",
		Short: "List the newest audit log entries: when, who, what, which object",
		Long: `List the newest entries of the audit log, newest first: keys made and
revoked, links disabled, enabled or deleted by an administrator, abuse
reports resolved, users managed. WHO is "operator" for the command line.`,
		Example: `  shortlinks audit list --limit 20
  shortlinks audit list --action report.resolve
  shortlinks audit list --action key.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withStorage(c, e, func(ctx context.Context, db *app.Storage) error {
				entries, _, err := db.Audit(nil).List(ctx, audit.Filter{Action: audit.Action(action)}, audit.Page{Limit: limit})
				if err != nil {
					return err
				}
				return printAudit(ctx, e, db, entries)
			})
		},
	}
	list.Flags().IntVar(&limit, "limit", audit.DefaultLimit, fmt.Sprintf("how many entries, up to %d", audit.MaxLimit))
	list.Flags().StringVar(&action, "action", "", `only this action ("report.resolve"), or family ("key.")`)
	config.AddFlags(list.Flags())
	cmd.AddCommand(list)
	return cmd
}

func printAudit(ctx context.Context, e env, db *app.Storage, entries []audit.Entry) error {
	emails := map[int64]string{}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tWHO\tACTION\tTARGET\tDETAIL")
	for _, en := range entries {
		who := "operator"
		if en.ActorUserID != 0 {
			if _, ok := emails[en.ActorUserID]; !ok {
				emails[en.ActorUserID] = userEmail(ctx, db, en.ActorUserID)
			}
			who = emails[en.ActorUserID]
		}
		if en.ActorKeyID != 0 {
			if en.ActorUserID == 0 {
				who = fmt.Sprintf("key %d", en.ActorKeyID)
			} else {
				who += fmt.Sprintf(" (key %d)", en.ActorKeyID)
			}
		}
		detail := ""
		if en.Detail != nil {
			b, err := json.Marshal(en.Detail)
			if err != nil {
				return err
			}
			detail = string(b)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s %s\t%s\n", en.ID, en.At.Format(timeLayout), who, en.Action, en.TargetType, en.TargetID, detail)
	}
	return tw.Flush()
}
