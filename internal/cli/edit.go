package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/httpapi"
)

// readPassword reads one line from r: a password given on standard input,
// so that it stays out of the shell history and the process list.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("--password-stdin: standard input holds no password")
	}
	return pw, nil
}

func editCmd(e env) *cobra.Command {
	var f clientFlags
	var (
		url, title, reason, expiresAt, expiresIn, validFrom string
		tags                                                []string
		disable, enable, noExpiry, noTags, passwordStdin    bool
		noPassword, forwardQuery                            bool
		maxVisits                                           int64
		domain                                              *string
	)
	cmd := &cobra.Command{
		Use:   "edit CODE [--domain HOST] [--url U] [--tag T ...] [--title T] [--disable --reason R | --enable] [--max-visits N] [--expires-at T | --expires-in D | --no-expiry] [--password-stdin] [--forward-query]",
		Short: "Change a link (needs an API key with links:write); only the options given change",
		Example: `  shortlinks edit launch --url https://example.com/new --tag spring --tag launch
  shortlinks edit Xk3p9Qa --disable --reason "reported as phishing"
  shortlinks edit Xk3p9Qa --enable --no-expiry --max-visits 0
  echo 's3cret' | shortlinks edit Xk3p9Qa --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			changed := cmd.Flags().Changed
			p := httpapi.Patch{}
			if changed("url") {
				p["url"] = url
			}
			if changed("title") {
				p["title"] = nullIfEmpty(title)
			}
			switch {
			case noTags && changed("tag"):
				return errors.New("give --tag or --no-tags, not both")
			case noTags:
				p["tags"] = nil
			case changed("tag"):
				p["tags"] = tags
			}
			switch {
			case disable && enable:
				return errors.New("give --disable or --enable, not both")
			case disable:
				p["disabled"] = true
				if changed("reason") {
					p["disabled_reason"] = nullIfEmpty(reason)
				}
			case enable:
				p["disabled"] = false
			case changed("reason"):
				return errors.New("--reason goes with --disable")
			}
			if n := btoi(changed("expires-at")) + btoi(changed("expires-in")) + btoi(noExpiry); n > 1 {
				return errors.New("give one of --expires-at, --expires-in and --no-expiry")
			}
			switch {
			case noExpiry:
				p["expires_at"] = nil
			case changed("expires-at"):
				p["expires_at"] = expiresAt
			case changed("expires-in"):
				d, err := parseDuration(expiresIn)
				if err != nil {
					return fmt.Errorf("--expires-in: %w", err)
				}
				p["expires_at"] = time.Now().Add(d).UTC().Format(time.RFC3339)
			}
			if changed("valid-from") {
				p["valid_from"] = nullIfEmpty(validFrom)
			}
			if changed("max-visits") {
				if maxVisits == 0 {
					p["max_visits"] = nil
				} else {
					p["max_visits"] = maxVisits
				}
			}
			switch {
			case passwordStdin && noPassword:
				return errors.New("give --password-stdin or --no-password, not both")
			case noPassword:
				p["password"] = nil
			case passwordStdin:
				pw, err := readPassword(cmd.InOrStdin())
				if err != nil {
					return err
				}
				p["password"] = pw
			}
			if changed("forward-query") {
				p["forward_query"] = forwardQuery
			}
			if len(p) == 0 {
				return errors.New("nothing to change: give at least one option (see --help)")
			}
			l, err := c.UpdateOn(cmd.Context(), *domain, args[0], p)
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
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "", "new destination URL")
	fl.StringArrayVar(&tags, "tag", nil, "tag; repeat for several (replaces all tags)")
	fl.BoolVar(&noTags, "no-tags", false, "remove every tag")
	fl.StringVar(&title, "title", "", "title for people managing the link (empty: remove it)")
	fl.BoolVar(&disable, "disable", false, "disable the link: it answers 410 instead of redirecting")
	fl.StringVar(&reason, "reason", "", "why the link is disabled (with --disable)")
	fl.BoolVar(&enable, "enable", false, "enable a disabled link")
	fl.Int64Var(&maxVisits, "max-visits", 0, "redirects allowed (0: no limit)")
	fl.StringVar(&expiresAt, "expires-at", "", "expiry as an RFC 3339 time")
	fl.StringVar(&expiresIn, "expires-in", "", "expire this long from now, like 90m, 24h or 7d")
	fl.BoolVar(&noExpiry, "no-expiry", false, "never expire")
	fl.StringVar(&validFrom, "valid-from", "", "do not redirect before this RFC 3339 time (empty: from now)")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "protect the link with the password read from standard input")
	fl.BoolVar(&noPassword, "no-password", false, "remove the password")
	fl.BoolVar(&forwardQuery, "forward-query", false, "append the short link's query string to the destination (--forward-query=false to stop)")
	return cmd
}

// addLinkOptions adds the link options shorten shares with edit, and
// returns a function that sets them on a create request.
func addLinkOptions(cmd *cobra.Command) func(*httpapi.CreateRequest) error {
	var title, validFrom string
	var tags []string
	var maxVisits int64
	var passwordStdin, forwardQuery bool
	fl := cmd.Flags()
	fl.StringVar(&title, "title", "", "title for people managing the link")
	fl.StringArrayVar(&tags, "tag", nil, "tag; repeat for several")
	fl.Int64Var(&maxVisits, "max-visits", 0, "redirects allowed (0: no limit)")
	fl.StringVar(&validFrom, "valid-from", "", "do not redirect before this RFC 3339 time")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "protect the link with the password read from standard input")
	fl.BoolVar(&forwardQuery, "forward-query", false, "append the short link's query string to the destination")
	return func(req *httpapi.CreateRequest) error {
		req.Title, req.Tags, req.ValidFrom, req.ForwardQuery = title, tags, validFrom, forwardQuery
		if maxVisits != 0 {
			req.MaxVisits = &maxVisits
		}
		if passwordStdin {
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			req.Password = pw
		}
		return nil
	}
}

// printLink shows a link's details, one per line.
func printLink(w io.Writer, l httpapi.LinkJSON) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "code\t%s\nshort_url\t%s\nurl\t%s\ncreated_at\t%s\nexpires_at\t%s\n",
		l.Code, l.ShortURL, l.URL, l.CreatedAt.Format(time.RFC3339), expiresText(l))
	if l.Title != nil {
		fmt.Fprintf(tw, "title\t%s\n", *l.Title)
	}
	if len(l.Tags) > 0 {
		fmt.Fprintf(tw, "tags\t%s\n", strings.Join(l.Tags, ", "))
	}
	if l.Disabled {
		reason := ""
		if l.DisabledReason != nil {
			reason = " (" + *l.DisabledReason + ")"
		}
		fmt.Fprintf(tw, "disabled\t%s%s\n", l.DisabledAt.Format(time.RFC3339), reason)
	}
	if l.ValidFrom != nil {
		fmt.Fprintf(tw, "valid_from\t%s\n", l.ValidFrom.Format(time.RFC3339))
	}
	if l.MaxVisits != nil {
		fmt.Fprintf(tw, "max_visits\t%d\n", *l.MaxVisits)
	}
	if l.PasswordProtected {
		fmt.Fprintln(tw, "password\tyes")
	}
	if l.ForwardQuery {
		fmt.Fprintln(tw, "forward_query\tyes")
	}
	if len(l.Rules) > 0 {
		fmt.Fprintf(tw, "rules\t%d\n", len(l.Rules))
	}
	if l.Clicks != nil {
		fmt.Fprintf(tw, "clicks\t%d\n", *l.Clicks)
	}
	return tw.Flush()
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
