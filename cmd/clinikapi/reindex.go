package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/datastore"
)

// reindexCmd rewrites the search index of every datastore.
func reindexCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	every := fs.Bool("every-parameter", false, "store each value under every parameter (before rolling back to a server that does)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errors.New("reindex takes no arguments")
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	return a.Reindex(ctx, *every, func(name string, st datastore.ReindexStats) {
		fmt.Fprintf(stdout, "datastore %s: %d resources reindexed (%d index rows), %d skipped (changed meanwhile); %s\n",
			name, st.Resources, st.Rows, st.Skipped, time.Since(start).Round(time.Millisecond))
	})
}
