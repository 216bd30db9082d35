// Package migrations holds the SQL schema, one goose migration set per
// database dialect, embedded in the binary.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
