// The SDK suite's cycles of the administrative, scheduling, financial and quality resources (organizations, locations, schedules, slots, claims, …): entries of the same shape as
// coreCycles in sdk_suite.mjs.
export const cycles = [];

// The FHIR types of these resources that patients.read(id, {include})
// asks for, and the field of the SDK's PatientReadResponse each lands in.
export const includeBuckets = {};

// fixtures makes, through the SDK, what these examples refer to besides
// the patient, practitioner and encounter (fixtures.patient, …), and
// returns them by name: {<name>Id} in an example is fixtures[<name>].
// fx(what, call) runs one create and returns the new id.
export async function fixtures(clinik, fx, made) {
  return {};
}
