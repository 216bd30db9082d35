// Package fhir holds the FHIR R4 vocabulary shared by the datastore, the
// search-parameter index (fhir/searchparam) and validation (fhir/validate):
// resources as decoded JSON, search parameter types, and index values.
package fhir

import "time"

// Resource is a decoded FHIR resource (a JSON object).
type Resource = map[string]any

// ParamType is a search parameter type.
type ParamType string

const (
	String    ParamType = "string"
	Token     ParamType = "token"
	Reference ParamType = "reference"
	Date      ParamType = "date"
	Number    ParamType = "number"
	Quantity  ParamType = "quantity"
	URI       ParamType = "uri"
	Composite ParamType = "composite"
	Special   ParamType = "special"
)

// SearchParam is one search parameter definition for one resource type.
type SearchParam struct {
	Code       string    // e.g. "family"
	Type       ParamType // e.g. String
	Expression string    // the FHIRPath expression restricted to this type
	Targets    []string  // for references: the resource types it may point to
	// Within lists the type's other parameters, of the same type, whose
	// values are always among this one's (family and given within name,
	// email within telecom). The search index keeps only this parameter's
	// other values; a search on it reads the rows of all of them.
	Within []string
}

// Value is one index entry: a value a resource has for a search parameter,
// extracted at write time. Which fields are set depends on Type.
type Value struct {
	Param string
	Type  ParamType

	// String: Text is normalised for matching (lower case, accents and
	// punctuation folded to spaces, trimmed); Exact is the value as written.
	Text  string
	Exact string

	// Token (also for Quantity: System and Code are the unit's).
	System string
	Code   string

	// Reference: a local reference "Type/id" split up; URL for others.
	RefType string
	RefID   string
	URL     string // also the value of URI parameters

	// Date: the period the value covers, [Start, End) in UTC.
	Start time.Time
	End   time.Time

	// Number and Quantity.
	Number float64
}
