// Package webhook sends outbound webhooks: a signed, ids-only event for
// every change of a FHIR resource (guides/webhooks.mdx in the published
// docs is the contract: names, payload, headers, signatures, retries).
//
// The path of an event: the records service writes it into the
// datastore's webhook outbox in the same transaction as the change
// (Change); the relay turns it into one delivery per subscribed endpoint
// in the control database (Service.Relay), and the dispatcher sends each
// delivery off the request path, claiming it with a lease so that several
// instances send every attempt once (Dispatcher). Every address a delivery
// goes to passes the SSRF guard when it is saved and again when it is
// dialled (Guard).
package webhook

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/random"
)

// Actions of a change, the second half of an event name.
const (
	Created = "created"
	Updated = "updated"
	Deleted = "deleted"
)

// TestEvent is the name of the event "Send test event" sends.
const TestEvent = "webhook.test"

// names are the documented event names of the FHIR types behind the
// contract's simplified resources (guides/webhooks.mdx, "Available
// Events"). Other FHIR types, written through /v1/fhir, are named by
// their type in kebab case (Procedure → procedure).
var names = map[string]string{
	"Patient": "patient", "Encounter": "encounter", "Observation": "observation", "Condition": "condition",
	"AllergyIntolerance": "allergy", "ClinicalImpression": "assessment", "CarePlan": "care-plan", "CareTeam": "care-team",
	"Goal": "goal", "RiskAssessment": "risk-assessment", "FamilyMemberHistory": "family-member-history",
	"Medication": "medication", "MedicationRequest": "prescription", "MedicationDispense": "medication-dispense",
	"MedicationStatement": "medication-statement", "MedicationKnowledge": "medication-knowledge", "Immunization": "immunization",
	"ImmunizationEvaluation": "immunization-evaluation", "ImmunizationRecommendation": "immunization-recommendation",
	"NutritionOrder": "nutrition-order", "Appointment": "appointment", "AppointmentResponse": "appointment-response",
	"Schedule": "schedule", "Slot": "slot", "DocumentReference": "note", "Composition": "document", "Consent": "consent",
	"QuestionnaireResponse": "intake", "Media": "media", "DiagnosticReport": "lab", "Specimen": "specimen",
	"ImagingStudy": "imaging-study", "Practitioner": "practitioner", "PractitionerRole": "practitioner-role",
	"Organization": "organization", "Location": "location", "HealthcareService": "healthcare-service", "Person": "person",
	"Task": "task", "ServiceRequest": "service-request", "DeviceRequest": "device-request",
	"ActivityDefinition": "activity-definition", "PlanDefinition": "plan-definition", "Device": "device",
	"DeviceUseStatement": "device-use-statement", "Account": "account", "ChargeItem": "charge-item", "Claim": "claim",
	"ClaimResponse": "claim-response", "Coverage": "coverage", "CoverageEligibilityRequest": "eligibility-request",
	"CoverageEligibilityResponse": "eligibility-response", "ExplanationOfBenefit": "explanation-of-benefit",
	"Invoice": "invoice", "PaymentNotice": "payment-notice", "PaymentReconciliation": "payment-reconciliation",
	"EnrollmentRequest": "enrollment-request", "EnrollmentResponse": "enrollment-response",
	"VisionPrescription": "vision-prescription", "Measure": "measure", "MeasureReport": "measure-report",
	"AuditEvent": "audit-event",
}

// ResourceName is the event name of a FHIR resource type: patient,
// prescription (MedicationRequest), care-plan, …
func ResourceName(fhirType string) string {
	if n, ok := names[fhirType]; ok {
		return n
	}
	var b strings.Builder
	for i, r := range fhirType {
		if 'A' <= r && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Payload is the body of a delivery, field for field as documented: ids
// only, never the resource's content.
type Payload struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	Timestamp string `json:"timestamp"`
	Data      Data   `json:"data"`
}

// Data is the payload's data object.
type Data struct {
	ResourceType string `json:"resourceType"`
	ResourceID   string `json:"resourceId"`
	Action       string `json:"action"`
	TenantID     string `json:"tenantId"`
	Environment  string `json:"environment"`
}

// envelope is an event as the outbox keeps it: the organization whose
// endpoints may receive it, and the payload's exact bytes.
type envelope struct {
	OrgID   string          `json:"org"`
	Payload json.RawMessage `json:"payload"`
}

// timestampLayout is the payload's timestamp: UTC, milliseconds, Z.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// NewPayload makes the payload of an event with a fresh id.
func NewPayload(resourceName, resourceID, action, tenantID, env string, at time.Time) Payload {
	return Payload{
		ID: random.SortableID("evt", at), Event: resourceName + "." + action, Timestamp: at.UTC().Format(timestampLayout),
		Data: Data{ResourceType: resourceName, ResourceID: resourceID, Action: action, TenantID: tenantID, Environment: env},
	}
}

// Change is the outbox event of a change of a FHIR resource: its type and
// id, the action, the tenant the record is stored under (the organization,
// or the sub-organization that owns it), the environment of the key that
// made it, and when. The records service stores it in the change's
// transaction.
func Change(orgID, tenantID, env, fhirType, id, action string, at time.Time) []byte {
	p := NewPayload(ResourceName(fhirType), id, action, tenantID, env, at)
	b, err := json.Marshal(envelope{OrgID: orgID, Payload: mustJSON(p)})
	if err != nil {
		panic("webhook: an event does not encode: " + err.Error()) // plain strings
	}
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("webhook: a payload does not encode: " + err.Error())
	}
	return b
}

// Environments an endpoint can be pinned to ("" receives both).
const (
	EnvBoth = ""
	EnvLive = "live"
	EnvTest = "test"
)

var patternRE = regexp.MustCompile(`^(\*|[a-z][a-z0-9]*(-[a-z0-9]+)*\.(\*|created|updated|deleted))$`)

// MaxPatterns bounds the event patterns of one endpoint.
const MaxPatterns = 100

// ParsePatterns reads event patterns separated by commas, spaces or
// lines: "*", "patient.*", "patient.created". The problems name the
// pattern's position, and say what is allowed.
func ParsePatterns(s string) ([]string, []string) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	var out, problems []string
	seen := map[string]bool{}
	for _, f := range fields {
		f = strings.ToLower(f)
		if !patternRE.MatchString(f) || len(f) > 80 {
			problems = append(problems, "each event must be *, <resource>.*, or <resource>.created, .updated or .deleted (for example patient.created)")
			continue
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(out) == 0 && len(problems) == 0 {
		problems = append(problems, "choose at least one event (* for all)")
	}
	if len(out) > MaxPatterns {
		problems = append(problems, "at most 100 event patterns are allowed")
	}
	return out, problems
}

// Matches reports whether an event name is subscribed to by patterns.
func Matches(patterns []string, event string) bool {
	for _, p := range patterns {
		if p == "*" || p == event {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(event, prefix) {
			return true
		}
	}
	return false
}
