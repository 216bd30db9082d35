package records

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/resource"
)

// The contract's simplified resources: bodies in the simplified JSON of
// the contract's schemas (package resource declares the mapping), stored
// as strict FHIR R4 in the same datastores as the raw FHIR routes.
// A deleted resource is simply not found here (the raw FHIR routes tell
// it apart, with GONE).

// notGone turns a read of a deleted resource into a plain NotFound.
func notGone(err error) error {
	if errs.ReasonOf(err) == errs.ReasonGone {
		return errs.E(errs.NotFound, "The resource was deleted.")
	}
	return err
}

// CreateSimple validates a create body against the contract, converts it to
// FHIR and stores it.
func (s *Service) CreateSimple(ctx context.Context, a Actor, d *resource.Def, body map[string]any) (datastore.Record, error) {
	res, err := s.ConvertSimple(d, body)
	if err != nil {
		return datastore.Record{}, err
	}
	return s.create(ctx, a, res, func(err error) error { return invalidSimple(d, err) })
}

// ConvertSimple checks a create body against the contract and turns it
// into the FHIR resource it stands for.
func (s *Service) ConvertSimple(d *resource.Def, body map[string]any) (map[string]any, error) {
	if issues := s.Contract.Validate(d.Schema, body); len(issues) > 0 {
		return nil, Invalid(issues)
	}
	res, issues := d.ToFHIR(body, s.Now())
	if len(issues) > 0 {
		return nil, Invalid(issues)
	}
	return res, nil
}

// ReadSimple returns the current version of a simplified resource.
func (s *Service) ReadSimple(ctx context.Context, a Actor, d *resource.Def, id string) (datastore.Record, error) {
	rec, err := s.Read(ctx, a, d.Type, id)
	return rec, notGone(err)
}

// readIncludingLimits are the search limits of a read with includes: the
// official SDK asks for Type:subject and Type:patient of every type it
// knows, which Includes has already narrowed to those that apply.
var readIncludingLimits = func() datastore.Limits {
	l := datastore.DefaultLimits
	l.Includes = 100
	return l
}()

// ReadIncluding reads a resource with the resources related to it, as a
// search of its id with _revinclude and _include (rev and inc, already
// kept to those Includes allows). It returns the page and the FHIR search
// parameters it ran.
func (s *Service) ReadIncluding(ctx context.Context, a Actor, typ, id string, rev, inc []string) (Page, url.Values, error) {
	fq := url.Values{"_id": {id}, "_total": {"accurate"}}
	if len(rev) > 0 {
		fq["_revinclude"] = rev
	}
	if len(inc) > 0 {
		fq["_include"] = inc
	}
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return Page{}, fq, err
	}
	q, err := datastore.ParseQueryLimits(s.Index, s.Normalize, typ, fq, readIncludingLimits)
	if err != nil {
		return Page{}, fq, err
	}
	q.Limit = 1
	a.narrow(&q)
	res, err := st.Search(ctx, tenant, q)
	if err != nil {
		return Page{}, fq, err
	}
	a.keep(&res)
	if len(res.Records) == 0 {
		return Page{}, fq, errs.E(errs.NotFound, "%s not found.", typ)
	}
	s.audit(ctx, a, ActionRead, typ, id)
	s.disclose(ctx, a, disclosure.Read, res.Records)
	s.disclose(ctx, a, disclosure.Include, res.Included)
	return Page{Result: res, Query: q}, fq, nil
}

// PatchSimple merges a partial simplified object into a resource: each
// field it names is merged into the current one (RFC 7396: objects merge,
// null removes, anything else replaces), the result is checked against the
// contract, and only the FHIR elements those fields map to change. match >
// 0 requires that version.
func (s *Service) PatchSimple(ctx context.Context, a Actor, d *resource.Def, id string, patch map[string]any, match int) (datastore.Record, error) {
	ctx, done, err := committed(ctx)
	if err != nil {
		return datastore.Record{}, err
	}
	defer done()
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return datastore.Record{}, err
	}
	cur, err := st.Read(ctx, tenant, d.Type, id)
	if err != nil {
		return cur, notGone(err)
	}
	res, err := datastore.Decode(cur)
	if err != nil {
		return cur, err
	}
	changes, issues := d.Merge(res, patch)
	if len(issues) > 0 {
		return cur, Invalid(issues)
	}
	set := map[string]any{}
	for k, v := range changes {
		if v != nil {
			set[k] = v
		}
	}
	issues = s.Contract.ValidatePartial(d.Schema, set)
	for _, req := range s.Contract.Required(d.Schema) {
		if v, ok := changes[req]; ok && v == nil {
			issues = append(issues, resource.Issue{Field: req, Constraint: "is required and cannot be removed"})
		}
	}
	if len(issues) > 0 {
		return cur, Invalid(issues)
	}
	if issues := d.Apply(res, changes, s.Now()); len(issues) > 0 {
		return cur, Invalid(issues)
	}
	if match == 0 {
		match = cur.Version // the merge was computed against this version
	}
	rec, _, err := st.Update(ctx, tenant, d.Type, id, res, match, s.outbox(ctx, a, tenant, ActionPatch))
	if err != nil {
		return rec, invalidSimple(d, err)
	}
	s.disclose(ctx, a, disclosure.Patch, []datastore.Record{rec})
	s.changed()
	return rec, nil
}

// DeleteSimple deletes a simplified resource.
func (s *Service) DeleteSimple(ctx context.Context, a Actor, d *resource.Def, id string, match int) error {
	return notGone(s.Delete(ctx, a, d.Type, id, match))
}

// SearchSimple runs a list of a simplified resource with the contract's
// query parameters: count (default 20, clamped to 1..100), cursor (one
// that is not valid for this search restarts at the beginning), sort and
// the resource's own.
func (s *Service) SearchSimple(ctx context.Context, a Actor, d *resource.Def, params url.Values) (Page, error) {
	count := datastore.DefaultCount
	if raw := params.Get(resource.CountParam); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			return Page{}, Invalid([]resource.Issue{{Field: resource.CountParam, Constraint: "must be an integer"}})
		}
		count = min(max(n, 1), datastore.MaxCount)
	}
	if issues := s.Contract.ValidateQuery(d.Path, params, resource.CountParam, resource.CursorParam); len(issues) > 0 {
		return Page{}, Invalid(issues)
	}
	fq, unknown, issues := d.Search(params)
	if len(unknown) > 0 {
		return Page{}, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonInvalidSearch,
			Message: "Unknown query parameter " + strings.Join(unknown, ", ") + " for /v1/" + d.Path + ". It accepts " + strings.Join(d.QueryNames(), ", ") + "."}
	}
	if len(issues) > 0 {
		return Page{}, Invalid(issues)
	}
	fq.Set("_count", strconv.Itoa(count))
	fq.Set("_total", "accurate")
	bound := url.Values{}
	for k, v := range params {
		if k != resource.CursorParam {
			bound[k] = v
		}
	}
	return s.Search(ctx, a, Search{Type: d.Type, Params: fq, Key: "/v1/" + d.Path + "?" + bound.Encode(),
		Cursor: params.Get(resource.CursorParam), Lenient: true})
}

// Invalid is the VALIDATION_ERROR of field-level issues of a simplified
// body or query: field names and constraints, never values.
func Invalid(issues []resource.Issue) error {
	e := &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation}
	for _, is := range issues {
		expr := is.Field
		if is.FHIRPath != "" {
			expr = is.FHIRPath
		}
		e.Issues = append(e.Issues, errs.Issue{Type: issueType(is.Constraint), Diagnostics: is.String(), Expression: expr})
	}
	switch len(issues) {
	case 1:
		e.Message = "The request is not valid: " + issues[0].String() + "."
	default:
		e.Message = "The request is not valid: " + strconv.Itoa(len(issues)) + " problems, listed in issues."
	}
	return e
}

// issueType is the FHIR issue type of a constraint.
func issueType(constraint string) string {
	switch {
	case strings.HasPrefix(constraint, "is required"):
		return "required"
	case strings.HasPrefix(constraint, "is not a known field"), strings.HasPrefix(constraint, "must be a"),
		strings.HasPrefix(constraint, "must be an"):
		return "structure"
	}
	return "value"
}

// invalidSimple turns a datastore validation failure (the FHIR resource a
// body became is not valid R4) into VALIDATION_ERROR naming the
// simplified fields.
func invalidSimple(d *resource.Def, err error) error {
	var inv *datastore.InvalidError
	if !errors.As(err, &inv) {
		return err
	}
	issues := make([]resource.Issue, len(inv.Issues))
	for i, is := range inv.Issues {
		issues[i] = resource.Issue{Field: d.FieldOf(is.Path), Constraint: is.Constraint, FHIRPath: is.Path}
		if issues[i].Field == "" {
			issues[i].Field = is.Path
		}
	}
	return Invalid(issues)
}
