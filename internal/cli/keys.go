package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// withStorage opens the database alone, prepared as serve would prepare
// it, for the commands that work on it directly.
func withStorage(c *cobra.Command, e env, fn func(ctx context.Context, db *app.Storage) error) error {
	return withStorageLog(c, e, func(ctx context.Context, db *app.Storage, _ *slog.Logger) error { return fn(ctx, db) })
}

// withStorageLog is withStorage for commands that also log, at warn, in
// the configured format.
func withStorageLog(c *cobra.Command, e env, fn func(ctx context.Context, db *app.Storage, log *slog.Logger) error) error {
	cfg, err := config.Load(c.Flags(), e.environ)
	if err != nil {
		return err
	}
	log := telemetry.NewLogger(e.stderr, cfg.LogFormat, "warn")
	db, err := app.OpenStorage(c.Context(), cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Prepare(c.Context()); err != nil {
		return err
	}
	return fn(c.Context(), db, log)
}

const timeLayout = "2006-01-02 15:04:05Z07:00"

func apikeyCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Create, list and revoke API keys (works on the database directly)",
	}

	var name, user, scopes string
	var admin bool
	var expiresIn time.Duration
	create := &cobra.Command{
		Use:   "create --name NAME [--user EMAIL] [--scopes links:read,links:write] [--expires-in 720h]",
		Short: "Create a key and print it once",
		Long: `Create an API key. The key is printed once and only its hash is stored.

A key with --user acts for that user, with at most the user's role: a
member's key sees and changes only the member's links, an admin's key with
the admin scope every link. Without --user the key is an ownerless service
key. Scopes: links:read (list and get), links:write (create and delete),
admin (everyone's links, reports and the audit log). The default is
links:read,links:write, and all three for an admin user or with --admin.`,
		Example: `  shortlinks apikey create --name ci --user dev@example.com --scopes links:read --expires-in 720h
  shortlinks apikey create --name moderation --user admin@example.com
  shortlinks apikey create --name legacy-service`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			p := apikey.IssueParams{Name: name}
			if expiresIn < 0 {
				return errors.New("--expires-in must be positive")
			}
			if expiresIn > 0 {
				p.ExpiresAt = time.Now().Add(expiresIn)
			}
			return withStorage(c, e, func(ctx context.Context, db *app.Storage) error {
				userAdmin := admin
				if user != "" {
					u, err := userByEmail(ctx, db, user)
					if err != nil {
						return err
					}
					if u.Disabled() {
						return fmt.Errorf("user %s is disabled", u.Email)
					}
					p.UserID, userAdmin = u.ID, u.Role == account.RoleAdmin
					if admin && !userAdmin {
						return fmt.Errorf("--admin: %s is a member, and a key acts with at most its user's role", u.Email)
					}
				}
				switch {
				case scopes != "":
					s, err := link.ParseScopes(splitList(scopes))
					if err != nil {
						return fmt.Errorf("--scopes: %w", err)
					}
					p.Scopes = s
				case userAdmin:
					p.Scopes = link.AllScopes
				default:
					p.Scopes = link.ScopeLinksRead | link.ScopeLinksWrite
				}
				if p.UserID != 0 && !userAdmin && p.Scopes.Has(link.ScopeAdmin) {
					return fmt.Errorf("--scopes: %s is a member, and a key acts with at most its user's role: no admin scope", user)
				}
				k, token, err := db.Keys().Issue(ctx, account.Operator, p)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "created key %d (%s, %s); store it now, it cannot be shown again:\n", k.ID, k.Name, k.Scopes.String())
				fmt.Fprintln(e.stdout, token)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	create.Flags().StringVar(&user, "user", "", "email of the user the key acts for (default: an ownerless service key)")
	create.Flags().StringVar(&scopes, "scopes", "", "comma-separated scopes: links:read, links:write, admin")
	create.Flags().DurationVar(&expiresIn, "expires-in", 0, "how long the key works, like 720h (default: until revoked)")
	create.Flags().BoolVar(&admin, "admin", false, "give the key the admin scope too (the default scopes for an admin user)")
	create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys: owner, scopes, expiry and status",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withStorage(c, e, func(ctx context.Context, db *app.Storage) error {
				keys, err := db.Keys().List(ctx)
				if err != nil {
					return err
				}
				emails := map[int64]string{}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tUSER\tSCOPES\tCREATED\tEXPIRES\tSTATUS")
				for _, k := range keys {
					owner := "(service)"
					if k.UserID != 0 {
						if _, ok := emails[k.UserID]; !ok {
							emails[k.UserID] = userEmail(ctx, db, k.UserID)
						}
						owner = emails[k.UserID]
					}
					expires := "never"
					if !k.ExpiresAt.IsZero() {
						expires = k.ExpiresAt.Format(timeLayout)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, owner,
						strings.Join(k.Scopes.Names(), ","), k.CreatedAt.Format(timeLayout), expires, keyStatus(k, time.Now()))
				}
				return tw.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key; the links it made stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var id int64
			if _, err := fmt.Sscan(args[0], &id); err != nil {
				return fmt.Errorf("key id %q is not a number; see 'shortlinks apikey list'", args[0])
			}
			return withStorage(c, e, func(ctx context.Context, db *app.Storage) error {
				if err := db.Keys().Revoke(ctx, id); err != nil {
					return fmt.Errorf("revoke key %d: %w", id, err)
				}
				fmt.Fprintf(e.stdout, "revoked key %d\n", id)
				return nil
			})
		},
	}
	signature := signatureCmd(e)
	for _, c := range []*cobra.Command{create, list, revoke, signature} {
		config.AddFlags(c.Flags())
	}
	cmd.AddCommand(create, list, revoke, signature)
	return cmd
}

// keyStatus says whether k works at now, and if not since when.
func keyStatus(k apikey.Key, now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked " + k.RevokedAt.Format(timeLayout)
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	case k.UserID != 0 && k.OwnerDisabled:
		return "user disabled"
	}
	return "active"
}

// users is what the key commands need of the user store; both engines
// keep users.
type users interface {
	account.Store
}

func userStore(db *app.Storage) (account.Store, error) {
	s, ok := db.Engine.(users)
	if !ok {
		return nil, errors.New("this database engine keeps no users")
	}
	return s, nil
}

func userByEmail(ctx context.Context, db *app.Storage, email string) (account.User, error) {
	s, err := userStore(db)
	if err != nil {
		return account.User{}, err
	}
	u, err := account.New(s, account.Options{}).ByEmail(ctx, account.Operator, email)
	if err != nil {
		return account.User{}, fmt.Errorf("--user %s: %w", email, err)
	}
	return u, nil
}

// userEmail is the email of user id for listings, or the id when it
// cannot be read.
func userEmail(ctx context.Context, db *app.Storage, id int64) string {
	if s, err := userStore(db); err == nil {
		if u, _, err := s.UserByID(ctx, id); err == nil {
			return u.Email
		}
	}
	return fmt.Sprintf("user %d", id)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
