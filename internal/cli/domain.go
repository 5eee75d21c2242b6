package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/httpapi"
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
	cmd := &cobra.Command{
		Use:   "add HOST [--root-redirect URL] [--not-found-redirect URL] [--restricted]",
		Short: "Add a short domain (needs an admin key)",
		Example: `  shortlinks domain add go.acme.com --root-redirect https://acme.com/
  shortlinks domain add internal.acme.com --restricted`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			req.Host = args[0]
			d, err := c.AddDomain(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(e.stdout, d)
			}
			_, err = fmt.Fprintf(e.stdout, "added %s\n", d.Host)
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&req.RootRedirect, "root-redirect", "", `where the domain's "/" redirects (default: 404)`)
	cmd.Flags().StringVar(&req.NotFoundRedirect, "not-found-redirect", "", "where an unknown code on the domain redirects (default: 404 page)")
	cmd.Flags().BoolVar(&req.Restricted, "restricted", false, "take links only from admins and the members given the domain")
	return cmd
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
