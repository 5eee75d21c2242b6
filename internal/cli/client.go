package cli

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/httpapi"
)

// clientFlags are the settings every client command shares.
type clientFlags struct {
	server string
	apiKey string
	output string
}

func (f *clientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "server to talk to (env SHORTLINKS_SERVER; default http://localhost:8080)")
	cmd.Flags().StringVar(&f.apiKey, "api-key", "", "API key (env SHORTLINKS_API_KEY)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "text or json")
}

// domainFlag adds --domain, the short domain of the link a command acts
// on, to cmd, and returns where its value goes.
func domainFlag(cmd *cobra.Command, usage string) *string {
	var host string
	cmd.Flags().StringVar(&host, "domain", "", usage)
	return &host
}

// onDomain is the usage of --domain for the commands that act on a link.
const onDomain = "the short domain the link is on, like go.acme.com (default: the default domain)"

func (f *clientFlags) client(e env) (*httpapi.Client, error) {
	server := f.server
	if server == "" {
		server = e.get("SHORTLINKS_SERVER")
	}
	if server == "" {
		server = "http://localhost:8080"
	}
	key := f.apiKey
	if key == "" {
		key = e.get("SHORTLINKS_API_KEY")
	}
	if f.output != "text" && f.output != "json" {
		return nil, fmt.Errorf("--output %q: use text or json", f.output)
	}
	return httpapi.NewClient(server, key, &http.Client{Timeout: 30 * time.Second}), nil
}

func shortenCmd(e env) *cobra.Command {
	var f clientFlags
	var alias, expiresIn, expiresAt string
	var options func(*httpapi.CreateRequest) error
	var domain *string
	cmd := &cobra.Command{
		Use:   "shorten URL [--domain HOST] [--alias A] [--expires-in D] [--title T] [--tag T ...] [--max-visits N] [--password-stdin] [--forward-query]",
		Short: "Shorten a URL on a running server",
		Example: `  shortlinks shorten https://example.com/a/long/path
  shortlinks shorten https://example.com --alias docs --expires-in 7d
  shortlinks shorten https://example.com/sale --tag spring --title "Spring sale" --max-visits 500
  shortlinks shorten https://acme.com/jobs --domain go.acme.com --alias jobs`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			req := httpapi.CreateRequest{URL: args[0], Alias: alias, ExpiresAt: expiresAt, Domain: *domain}
			if err := options(&req); err != nil {
				return err
			}
			if expiresIn != "" {
				d, err := parseDuration(expiresIn)
				if err != nil {
					return fmt.Errorf("--expires-in: %w", err)
				}
				secs := int64(d / time.Second)
				req.ExpiresIn = &secs
			}
			l, err := c.Create(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, l)
			}
			_, err = fmt.Fprintln(e.stdout, l.ShortURL)
			return err
		},
	}
	f.add(cmd)
	options = addLinkOptions(cmd)
	cmd.Flags().StringVar(&alias, "alias", "", "custom code (3-64 of A-Z a-z 0-9 - _; case-sensitive)")
	cmd.Flags().StringVar(&expiresIn, "expires-in", "", "lifetime, like 90m, 24h or 7d")
	cmd.Flags().StringVar(&expiresAt, "expires-at", "", "expiry as an RFC 3339 time")
	domain = domainFlag(cmd, "the short domain to make the link on, like go.acme.com (default: the default domain; see 'shortlinks domain list')")
	return cmd
}

func infoCmd(e env) *cobra.Command {
	var f clientFlags
	var domain *string
	cmd := &cobra.Command{
		Use:   "info CODE [--domain HOST]",
		Short: "Show a link's details (needs an API key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			l, err := c.GetOn(cmd.Context(), *domain, args[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, l)
			}
			return printLink(e.stdout, l)
		},
	}
	f.add(cmd)
	domain = domainFlag(cmd, onDomain)
	return cmd
}

func deleteCmd(e env) *cobra.Command {
	var f clientFlags
	var domain *string
	cmd := &cobra.Command{
		Use:   "delete CODE [--domain HOST]",
		Short: "Delete a link (needs an API key); its code is never reissued",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			if err := c.DeleteOn(cmd.Context(), *domain, args[0]); err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, map[string]string{"deleted": args[0]})
			}
			_, err = fmt.Fprintf(e.stdout, "deleted %s\n", args[0])
			return err
		},
	}
	f.add(cmd)
	domain = domainFlag(cmd, onDomain)
	return cmd
}

func listCmd(e env) *cobra.Command {
	var f clientFlags
	var limit int
	var cursor string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your links, newest first (needs an API key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			page, err := c.List(cmd.Context(), cursor, limit)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, page)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tCREATED\tEXPIRES\tURL")
			for _, l := range page.Links {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Code, l.CreatedAt.Format(time.RFC3339), expiresText(l), l.URL)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextCursor != nil {
				fmt.Fprintf(e.stderr, "more: shortlinks list --cursor %s\n", *page.NextCursor)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "links per page (default 50, at most 1000)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "continue from a previous page")
	return cmd
}

func expiresText(l httpapi.LinkJSON) string {
	if l.ExpiresAt == nil {
		return "never"
	}
	return l.ExpiresAt.Format(time.RFC3339)
}

// parseDuration reads Go durations and also whole days and weeks (7d, 2w).
func parseDuration(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("%q is not a duration like 90m, 24h, 7d or 2w", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("%q is not a duration of at least a second, like 90m, 24h, 7d or 2w", s)
	}
	return d, nil
}
