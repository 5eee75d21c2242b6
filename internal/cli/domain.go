package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
)

func domainCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domain",
		Short: "Manage the short domains of a running server",
	}
	cmd.AddCommand(domainAddCmd(e), domainListCmd(e), domainRemoveCmd(e))
	return cmd
}

func domainAddCmd(e env) *cobra.Command {
	var f clientFlags
	var req httpapi.CreateDomainRequest
	var ifMissing bool
	cmd := &cobra.Command{
		Use:   "add HOST [--root-redirect URL] [--not-found-redirect URL] [--restricted] [--if-missing]",
		Short: "Add a short domain (needs an admin key)",
		Long: `Add a short domain (needs an admin key).

With --if-missing, a domain that already exists with that host is not an
error: the command says so and exits 0, leaving the domain as it is, so that
it can run from a deploy hook on every upgrade. Settings given that differ
from the existing domain's are named on stderr; change them in the API or
remove and add the domain again.`,
		Example: `  shortlinks domain add go.acme.com --root-redirect https://acme.com/
  shortlinks domain add internal.acme.com --restricted
  shortlinks domain add go.acme.com --if-missing   # from a deploy hook`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			req.Host = args[0]
			d, err := c.AddDomain(cmd.Context(), req)
			verb := "added"
			if apiErr := (*httpapi.APIError)(nil); ifMissing && errors.As(err, &apiErr) && apiErr.Code == "domain_taken" {
				existing, found, lerr := findDomain(cmd.Context(), c, req.Host)
				if lerr != nil {
					return errors.Join(err, lerr)
				}
				if !found {
					return err
				}
				d, err, verb = existing, nil, "exists"
				if diff := domainDiff(cmd, req, existing); len(diff) > 0 {
					fmt.Fprintf(e.stderr, "%s exists with other settings, left as they are: %s\n", existing.Host, strings.Join(diff, "; "))
				}
			}
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, d)
			}
			if verb == "exists" {
				_, err = fmt.Fprintf(e.stdout, "%s exists; unchanged\n", d.Host)
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "added %s\n", d.Host)
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&req.RootRedirect, "root-redirect", "", `where the domain's "/" redirects (default: 404)`)
	cmd.Flags().StringVar(&req.NotFoundRedirect, "not-found-redirect", "", "where an unknown code on the domain redirects (default: 404 page)")
	cmd.Flags().BoolVar(&req.Restricted, "restricted", false, "take links only from admins and the members given the domain")
	cmd.Flags().BoolVar(&ifMissing, "if-missing", false, "succeed, changing nothing, when a domain with that host exists")
	return cmd
}

// findDomain returns the domain whose host is host, in the form the
// server keeps hosts (lower case, international labels in punycode).
func findDomain(ctx context.Context, c *httpapi.Client, host string) (httpapi.DomainJSON, bool, error) {
	list, err := c.Domains(ctx)
	if err != nil {
		return httpapi.DomainJSON{}, false, err
	}
	want := canonicalDomain(host)
	for _, d := range list.Domains {
		if canonicalDomain(d.Host) == want {
			return d, true, nil
		}
	}
	return httpapi.DomainJSON{}, false, nil
}

func canonicalDomain(h string) string {
	h = strings.TrimSuffix(h, ".")
	if c, err := link.CanonicalHost(h); err == nil {
		return c
	}
	return strings.ToLower(h)
}

// domainDiff names the settings given on the command line that the
// existing domain d does not have.
func domainDiff(cmd *cobra.Command, req httpapi.CreateDomainRequest, d httpapi.DomainJSON) []string {
	var diff []string
	str := func(flag, given string, have *string) {
		if cmd.Flags().Changed(flag) && given != orEmpty(have) {
			diff = append(diff, fmt.Sprintf("%s is %s, not %s", flag, orDash(have), orDash(&given)))
		}
	}
	str("root-redirect", req.RootRedirect, d.RootRedirect)
	str("not-found-redirect", req.NotFoundRedirect, d.NotFoundRedirect)
	if cmd.Flags().Changed("restricted") && req.Restricted != d.Restricted {
		diff = append(diff, fmt.Sprintf("restricted is %s, not %s", yesNo(d.Restricted), yesNo(req.Restricted)))
	}
	return diff
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func domainListCmd(e env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the short domains, the default one first (needs an API key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			list, err := c.Domains(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, list)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tDEFAULT\tRESTRICTED\tROOT_REDIRECT\tNOT_FOUND_REDIRECT\tCREATED")
			for _, d := range list.Domains {
				created := "-"
				if d.CreatedAt != nil {
					created = d.CreatedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Host, yesNo(d.Default), yesNo(d.Restricted),
					orDash(d.RootRedirect), orDash(d.NotFoundRedirect), created)
			}
			return tw.Flush()
		},
	}
	f.add(cmd)
	return cmd
}

func domainRemoveCmd(e env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "remove HOST",
		Short: "Remove a short domain no live link is on (needs an admin key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			if err := c.RemoveDomain(cmd.Context(), args[0]); err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, map[string]string{"removed": args[0]})
			}
			_, err = fmt.Fprintf(e.stdout, "removed %s\n", args[0])
			return err
		},
	}
	f.add(cmd)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}
