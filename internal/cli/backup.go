package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/store"
)

func backupCmd(e env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Copy the SQLite database to a file while servers keep serving",
		Long: `Write a consistent copy of the SQLite database to FILE while servers keep
serving from it: links created during the copy are either wholly in it or
not at all. FILE is replaced only once the copy is complete and checked.

PostgreSQL is backed up with its own tools (pgBackRest, or CloudNativePG on
Kubernetes), which also recover to a point in time: see docs/deploy.md.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the backup to (required)")
	cmd.MarkFlagRequired("out")
	config.AddFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := config.Load(cmd.Flags(), e.environ)
		if err != nil {
			return err
		}
		db, err := app.OpenStorage(cmd.Context(), cfg, nil)
		if err != nil {
			return err
		}
		defer db.Close()
		info, err := db.Backup(cmd.Context(), out)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "backed up %s to %s: %s\n", config.Mask(cfg.DatabaseURL), out, describe(info))
		return nil
	}
	return cmd
}

func restoreCmd(e env) *cobra.Command {
	var opts app.RestoreOptions
	cmd := &cobra.Command{
		Use:   "restore FILE --database-url sqlite:PATH [--force]",
		Short: "Put a backup in place as the SQLite database",
		Long: `Check that FILE is a Shortlinks backup at a schema version this build knows,
then put it in place as the database that --database-url names. An existing
database there is replaced only with --force: stop the servers using it
first. Start the server on it afterwards; it applies any newer migrations.

The id counter is moved --skip-ids past the backup's, so that codes handed
out after the backup was taken are never issued again to other links (ten
million of about 3.5 trillion codes by default).`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace the database that is there")
	cmd.Flags().Uint64Var(&opts.SkipIDs, "skip-ids", 10_000_000, "ids to skip past the backup's counter, so that no code issued after the backup is issued again")
	config.AddFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := config.Load(cmd.Flags(), e.environ)
		if err != nil {
			return err
		}
		info, err := app.Restore(cmd.Context(), cfg, args[0], opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "restored %s to %s: %s\n", args[0], config.Mask(cfg.DatabaseURL), describe(info))
		return nil
	}
	return cmd
}

func describe(i store.BackupInfo) string {
	return fmt.Sprintf("%d links, schema version %d, %d bytes", i.Links, i.SchemaVersion, i.Bytes)
}
