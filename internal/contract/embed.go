// Package contract embeds ClinikAPI's published API contract (OpenAPI 3.1,
// MIT, see LICENSE) so requests can be validated against it.
package contract

import _ "embed"

// OpenAPI is the contract document.
//
//go:embed openapi.yaml
var OpenAPI []byte
