package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/app"
)

// signatureCmd is 'shortlinks apikey signature ID': the token that YOURLS
// API clients sign requests with for a key.
func signatureCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "signature ID",
		Short: "Print a key's signature token, for YOURLS API clients (--compat yourls)",
		Long: `Print the signature token of a key, for clients of the YOURLS-compatible
API (yourls-api.php, served with --compat yourls). A client sends it as
"signature", or signs requests with it for a time: signature=md5(timestamp
+ token) with "timestamp". The key itself also works as "signature". The
token is as powerful as the key and is revoked with it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var id int64
			if _, err := fmt.Sscan(args[0], &id); err != nil {
				return fmt.Errorf("key id %q is not a number; see 'shortlinks apikey list'", args[0])
			}
			return withStorage(c, e, func(ctx context.Context, db *app.Storage) error {
				keys, err := db.Keys().List(ctx)
				if err != nil {
					return err
				}
				for _, k := range keys {
					if k.ID == id {
						if !k.RevokedAt.IsZero() {
							return fmt.Errorf("key %d is revoked", id)
						}
						_, err := fmt.Fprintln(e.stdout, apikey.SignatureToken(k))
						return err
					}
				}
				return fmt.Errorf("no key %d; see 'shortlinks apikey list'", id)
			})
		},
	}
}
