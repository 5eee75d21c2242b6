package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
)

// userCmd manages the people who sign in to the dashboard. Like apikey, it
// works on the database directly, as the operator (an administrator).
func userCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Create, list, disable users and reset their passwords (works on the database directly)",
	}
	withUsers := func(c *cobra.Command, fn func(ctx context.Context, svc *account.Service) error) error {
		return withStorageLog(c, e, func(ctx context.Context, db *app.Storage, log *slog.Logger) error {
			svc, err := db.Accounts(log, account.Options{})
			if err != nil {
				return err
			}
			return fn(ctx, svc)
		})
	}

	var email string
	var admin, fromStdin bool
	create := &cobra.Command{
		Use:   "create --email EMAIL [--admin] [--password-stdin]",
		Short: "Create a user; the password is asked for, or read from standard input",
		Long: `Create a user who signs in to the dashboard. An admin sees and manages
everything; a member (the default) manages their own links and keys.

The password (12 to 256 characters) is asked for twice on a terminal, or read
as the first line of standard input with --password-stdin.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			pw, err := e.newPassword(fromStdin)
			if err != nil {
				return err
			}
			role := account.RoleMember
			if admin {
				role = account.RoleAdmin
			}
			return withUsers(c, func(ctx context.Context, svc *account.Service) error {
				u, err := svc.Create(ctx, account.Operator, account.NewUser{Email: email, Password: pw, Role: role})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "created %s %s (id %d)\n", u.Role, u.Email, u.ID)
				return nil
			})
		},
	}
	create.Flags().StringVar(&email, "email", "", "the user's email address, with which they sign in (required)")
	create.Flags().BoolVar(&admin, "admin", false, "make the user an administrator")
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	create.MarkFlagRequired("email")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withUsers(c, func(ctx context.Context, svc *account.Service) error {
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tCREATED\tSTATUS")
				for after := int64(0); ; {
					users, err := svc.List(ctx, account.Operator, after, account.MaxPageSize)
					if err != nil {
						return err
					}
					for _, u := range users {
						status := "active"
						if u.Disabled() {
							status = "disabled " + u.DisabledAt.Format("2006-01-02 15:04:05Z07:00")
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, u.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), status)
						after = u.ID
					}
					if len(users) < account.MaxPageSize {
						return tw.Flush()
					}
				}
			})
		},
	}

	disable := &cobra.Command{
		Use:   "disable EMAIL",
		Short: "Stop a user signing in; ends their sessions and stops their API keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withUsers(c, func(ctx context.Context, svc *account.Service) error {
				u, err := svc.ByEmail(ctx, account.Operator, args[0])
				if err != nil {
					return err
				}
				if err := svc.Disable(ctx, account.Operator, u.ID); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "disabled %s\n", u.Email)
				return nil
			})
		},
	}

	var resetStdin bool
	reset := &cobra.Command{
		Use:   "reset-password EMAIL [--password-stdin]",
		Short: "Give a user a new password; ends their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pw, err := e.newPassword(resetStdin)
			if err != nil {
				return err
			}
			return withUsers(c, func(ctx context.Context, svc *account.Service) error {
				u, err := svc.ByEmail(ctx, account.Operator, args[0])
				if err != nil {
					return err
				}
				if err := svc.ResetPassword(ctx, account.Operator, u.ID, pw); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "reset the password of %s; their sessions have ended\n", u.Email)
				return nil
			})
		},
	}
	reset.Flags().BoolVar(&resetStdin, "password-stdin", false, "read the password from the first line of standard input")

	for _, c := range []*cobra.Command{create, list, disable, reset} {
		config.AddFlags(c.Flags())
	}
	cmd.AddCommand(create, list, disable, reset)
	return cmd
}

// newPassword reads a new password: the first line of standard input with
// fromStdin, otherwise twice from the terminal without echo.
func (e env) newPassword(fromStdin bool) (string, error) {
	f, isFile := e.stdin.(*os.File)
	if !fromStdin {
		if !isFile || !term.IsTerminal(int(f.Fd())) {
			return "", errors.New("standard input is not a terminal: give --password-stdin and the password on standard input")
		}
		fmt.Fprint(e.stderr, "Password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(e.stderr, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(again) {
			return "", errors.New("the passwords differ")
		}
		return string(first), nil
	}
	if e.stdin == nil {
		return "", errors.New("no standard input to read the password from")
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("standard input holds no password")
	}
	return pw, nil
}
