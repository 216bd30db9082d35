// Package migrations holds the SQL schema, one goose migration set per
// database dialect, embedded in the binary: the control plane (sqlite/,
// postgres/) and the FHIR datastores (fhir/sqlite/, fhir/postgres/).
package migrations

import "embed"

// FS holds every migration set.
//
//go:embed sqlite/*.sql postgres/*.sql fhir/sqlite/*.sql fhir/postgres/*.sql
var FS embed.FS
