// The official SDK (@clinikapi/sdk, compiled from web/testdata/clinikapi-sdk)
// against a running server, used exactly as a customer's backend uses it.
//
// Environment:
//   CLINIKAPI_BASE_URL   the server, e.g. http://127.0.0.1:8080
//   CLINIKAPI_API_KEY    a clk_test_… key with scope * on a plan whose rate
//                        limit allows a few hundred requests a minute
//   CLINIKAPI_EXAMPLES   the folder of example bodies, one per simplified
//                        resource (internal/resource/testdata)
//   CLINIKAPI_API_KEY_LIMITED  (optional) a key of another organization
//                        whose rate limit is a few requests a minute
//   CLINIKAPI_SERVER_DATE  (optional) the server clock's day, YYYY-MM-DD:
//                        X-Timestamp must carry it (the SDK falls back to
//                        the local time when the header is missing)
//
// It prints one JSON line per check:
//   {"namespace": "patients", "step": "read", "ok": true, "detail": "…"}
// Details name fields, statuses and error codes, never field values. Besides
// the checks there is one {"step": "inventory", "namespaces": [...]} line
// with the SDK's resource namespaces, and one {"step": "route", "routed":
// bool} line per namespace telling whether the server has a route for it.
// web/sdk_test.go reads the lines and decides what is a failure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Clinik, ClinikApiError, ClinikAuthError, ClinikRateLimitError, ClinikValidationError } from '@clinikapi/sdk';
import * as clinical from './sdk_cycles_clinical.mjs';
import * as administrative from './sdk_cycles_admin.mjs';

const baseUrl = process.env.CLINIKAPI_BASE_URL;
const apiKey = process.env.CLINIKAPI_API_KEY;
const examples = process.env.CLINIKAPI_EXAMPLES;
if (!baseUrl || !apiKey || !examples) {
  console.error('sdk_suite.mjs: set CLINIKAPI_BASE_URL, CLINIKAPI_API_KEY and CLINIKAPI_EXAMPLES');
  process.exit(2);
}

// No retries: a 5xx or a dropped connection must show, not be papered over.
const clinik = new Clinik(apiKey, { baseUrl, retries: 0, timeout: 15_000 });

function emit(namespace, step, ok, detail = '', extra = {}) {
  process.stdout.write(JSON.stringify({ namespace, step, ok: Boolean(ok), detail, ...extra }) + '\n');
}

// describe an SDK error without anything the request carried.
function describe(err) {
  if (err instanceof ClinikApiError) {
    const issues = Array.isArray(err.issues) ? `, ${err.issues.length} issues` : '';
    return `${err.name} ${err.status} ${err.code}: ${err.message}${issues}`;
  }
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`;
}

// check runs one SDK call; a throw is a failed check. It returns the
// response's data (also when verify found a problem, so that later steps
// still run), or undefined when the call or verify threw.
async function check(namespace, step, call, verify) {
  let res;
  try {
    res = await call();
  } catch (err) {
    emit(namespace, step, false, describe(err));
    return undefined;
  }
  let problem = '';
  let unreadable = false;
  try {
    problem = verify ? verify(res.data, res.meta) : '';
  } catch (err) {
    problem = `the answer could not be checked: ${describe(err)}`;
    unreadable = true;
  }
  emit(namespace, step, !problem, problem || `status ${res.meta?.status}`);
  return unreadable ? undefined : res.data;
}

// Where a value sits in a response. The simplified routes answer
// simplified JSON (the SDK's PatientSummary for patients): every field
// comes back under the name it was sent in. A stored FHIR resource (it
// carries the tenant tag in meta.tag) is the wrong answer; the detail says
// which shape came back. A spec names the field (simple) and, where the
// value is nested, how to read it (simplified); fhir and fhirPath say where
// the same value sits in the stored resource, for details.
const shapeOf = (data) => (Array.isArray(data?.meta?.tag) || Array.isArray(data?.name) || Array.isArray(data?.telecom) ? 'fhir' : 'simplified');

function field(data, spec) {
  const simplified = spec.simplified ?? ((d) => d?.[spec.simple]);
  return { shape: shapeOf(data), value: simplified(data) };
}

function fieldProblem(data, spec, want) {
  const { shape, value } = field(data, spec);
  if (shape === 'fhir') {
    return `the answer is the stored FHIR resource (${spec.simple} sits at ${spec.fhirPath}), not simplified JSON`;
  }
  if (value !== want) {
    return `${spec.simple} does not hold the value sent`;
  }
  return '';
}

const byPhone = (r) => r.telecom?.find((t) => t.system === 'phone')?.value;

// One entry per simplified resource the server implements
// (internal/resource/defs*.go), under the SDK's namespace name: the core
// ones here, the others in sdk_cycles_clinical.mjs and sdk_cycles_admin.mjs
// (which also make the fixtures their examples refer to).
//   example   the body file in CLINIKAPI_EXAMPLES
//   type      the FHIR resource type the route stores
//   create    the SDK's method for POST
//   text      a free-text field of the example that must read back
//   update    a partial object to PATCH, and the field it changes
//   search    the SDK search parameters that must find the new resource
//   params    search parameters each tried alone after the update
const coreCycles = [
  {
    ns: 'practitioners', example: 'practitioners', type: 'Practitioner', create: 'create',
    text: { simple: 'lastName', fhirPath: 'name[0].family', fhir: (r) => r.name?.[0]?.family },
    update: { body: { specialty: 'Interventional Cardiology' }, want: 'Interventional Cardiology',
      simple: 'specialty', fhirPath: 'extension[specialty].valueCodeableConcept.text',
      fhir: (r) => r.extension?.find((e) => e.url?.endsWith('/specialty'))?.valueCodeableConcept?.text },
    search: () => ({ name: 'marq' }),
    params: () => ({ name: 'marq', specialty: 'cardio', npi: '1234567893', active: true }), // PractitionerSearchParams
  },
  {
    ns: 'patients', example: 'patients', type: 'Patient', create: 'create',
    text: { simple: 'lastName', fhirPath: 'name[0].family', fhir: (r) => r.name?.[0]?.family },
    update: { body: { phone: '+1-555-0199', address: { city: 'Salem' } }, want: '+1-555-0199',
      simple: 'phone', fhirPath: 'telecom[system=phone].value', fhir: byPhone },
    search: () => ({ name: 'okaf' }),
    params: () => ({ name: 'okaf', email: 'amara.okafor@example.com', phone: '+1-555-0199', birthDate: '1987-03-14', gender: 'female', active: true }), // PatientSearchParams
  },
  {
    ns: 'practitionerRoles', example: 'practitioner-roles', type: 'PractitionerRole', create: 'create',
    text: { simple: 'availabilityExceptions', fhirPath: 'availabilityExceptions', fhir: (r) => r.availabilityExceptions },
    update: { body: { availabilityExceptions: 'Open on the first Saturday' }, want: 'Open on the first Saturday',
      simple: 'availabilityExceptions', fhirPath: 'availabilityExceptions', fhir: (r) => r.availabilityExceptions },
    search: () => ({ status: 'active' }),
    params: () => ({ status: 'active' }), // generic; the contract lists status
  },
  {
    ns: 'encounters', example: 'encounters', type: 'Encounter', create: 'create',
    text: { simple: 'reasonCode', fhirPath: 'reasonCode[0].text', fhir: (r) => r.reasonCode?.[0]?.text },
    update: { body: { status: 'in-progress' }, want: 'in-progress', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'in-progress', dateFrom: '2026-11-19', dateTo: '2026-11-21', sort: '-date' }), // generic
  },
  {
    ns: 'observations', example: 'observations', type: 'Observation', create: 'create',
    text: { simple: 'note', fhirPath: 'note[0].text', fhir: (r) => r.note?.[0]?.text },
    update: { body: { status: 'amended' }, want: 'amended', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'amended', dateFrom: '2026-11-20', dateTo: '2026-11-20', sort: 'effectiveDateTime' }), // generic
  },
  {
    ns: 'medications', example: 'medications', type: 'Medication', create: 'create',
    text: { simple: 'manufacturer', fhirPath: 'manufacturer.display', fhir: (r) => r.manufacturer?.display },
    update: { body: { batch: { lotNumber: 'LOT-9' } }, want: 'LOT-9',
      simple: 'batch', fhirPath: 'batch.lotNumber', fhir: (r) => r.batch?.lotNumber, simplified: (r) => r.batch?.lotNumber },
    search: () => ({ status: 'active' }),
    params: () => ({ status: 'active' }), // generic; the contract lists status
  },
  {
    ns: 'appointments', example: 'appointments', type: 'Appointment', create: 'create',
    text: { simple: 'description', fhirPath: 'description', fhir: (r) => r.description },
    update: { body: { status: 'cancelled', cancelationReason: 'Patient request' }, want: 'Patient request',
      simple: 'cancelationReason', fhirPath: 'cancelationReason.text', fhir: (r) => r.cancelationReason?.text },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'cancelled', dateFrom: '2026-12-01', dateTo: '2026-12-03', sort: 'start' }), // generic
  },
  {
    ns: 'prescriptions', example: 'prescriptions', type: 'MedicationRequest', create: 'create',
    text: { simple: 'dosageText', fhirPath: 'dosageInstruction[0].text', fhir: (r) => r.dosageInstruction?.[0]?.text },
    update: { body: { status: 'on-hold', statusReason: 'Awaiting labs' }, want: 'Awaiting labs',
      simple: 'statusReason', fhirPath: 'statusReason.text', fhir: (r) => r.statusReason?.text },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, prescriberId: f.practitioner, status: 'on-hold', medication: '197361' }), // PrescriptionSearchParams
  },
  {
    ns: 'intakes', example: 'intakes', type: 'QuestionnaireResponse', create: 'submit',
    text: { simple: 'items', fhirPath: 'item[0].text', fhir: (r) => r.item?.[0]?.text,
      simplified: (r) => r.items?.[0]?.text, sent: (b) => b.items[0].text },
    update: { body: { status: 'amended' }, want: 'amended', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'amended', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // generic; the contract has no sort
  },
  {
    ns: 'consents', example: 'consents', type: 'Consent', create: 'sign',
    text: { simple: 'policyRule', fhirPath: 'policyRule.text', fhir: (r) => r.policyRule?.text },
    update: { body: { status: 'inactive' }, want: 'inactive', simple: 'status', fhirPath: 'status', fhir: (r) => r.status },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'inactive', dateFrom: '2026-11-20', dateTo: '2026-11-20' }), // generic; the contract has no sort
  },
  {
    ns: 'labs', example: 'labs', type: 'DiagnosticReport', create: 'create',
    text: { simple: 'conclusion', fhirPath: 'conclusion', fhir: (r) => r.conclusion },
    update: { body: { conclusion: 'LDL at target after therapy' }, want: 'LDL at target after therapy',
      simple: 'conclusion', fhirPath: 'conclusion', fhir: (r) => r.conclusion },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, status: 'final', dateFrom: '2026-11-19', dateTo: '2026-11-19', sort: '-date' }), // generic
  },
  {
    ns: 'notes', example: 'notes', type: 'DocumentReference', create: 'create',
    text: { simple: 'title', fhirPath: 'description', fhir: (r) => r.description },
    update: { body: { title: 'Cardiology follow-up (amended)' }, want: 'Cardiology follow-up (amended)',
      simple: 'title', fhirPath: 'description', fhir: (r) => r.description },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, authorId: f.practitioner, encounterId: f.encounter, type: 'progress-note', category: 'clinical-note', date: '2026-11-20' }), // NoteSearchParams
  },
  {
    ns: 'assessments', example: 'assessments', type: 'ClinicalImpression', create: 'create',
    text: { simple: 'summary', fhirPath: 'summary', fhir: (r) => r.summary },
    update: { body: { summary: 'Angina controlled.' }, want: 'Angina controlled.', simple: 'summary', fhirPath: 'summary', fhir: (r) => r.summary },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, practitionerId: f.practitioner, status: 'completed', encounterId: f.encounter }), // AssessmentSearchParams
  },
  {
    ns: 'documents', example: 'documents', type: 'Composition', create: 'create',
    text: { simple: 'title', fhirPath: 'title', fhir: (r) => r.title },
    update: { body: { title: 'Discharge summary (final)' }, want: 'Discharge summary (final)', simple: 'title', fhirPath: 'title', fhir: (r) => r.title },
    search: (f) => ({ patientId: f.patient }),
    params: (f) => ({ patientId: f.patient, practitionerId: f.practitioner, type: 'discharge-summary', status: 'final', date: '2026-11-21' }), // DocumentSearchParams
  },
];

const cycles = [...coreCycles, ...clinical.cycles, ...administrative.cycles];

// The resource types patients.read(id, {include}) asks for, and the field
// of the SDK's PatientReadResponse each lands in.
const includeBuckets = {
  Encounter: 'encounters', Observation: 'observations', Appointment: 'appointments',
  QuestionnaireResponse: 'intakes', Consent: 'consents', DiagnosticReport: 'labs',
  MedicationRequest: 'prescriptions', DocumentReference: 'notes',
  ClinicalImpression: 'assessments', Composition: 'documents',
  ...clinical.includeBuckets, ...administrative.includeBuckets,
};

// example reads an example body, with each {{<name>Id}} placeholder
// replaced by the id of fixtures[<name>].
function example(name, fixtures) {
  let raw = readFileSync(join(examples, `${name}.json`), 'utf8');
  for (const [k, id] of Object.entries(fixtures)) {
    raw = raw.replaceAll(`{{${k}Id}}`, id);
  }
  return JSON.parse(raw);
}

function idProblem(data, id, type) {
  if (data?.id !== id) return 'the answer does not carry the id';
  if (data.resourceType !== undefined && data.resourceType !== type) return `resourceType is not ${type}`;
  return '';
}

async function main() {
  // 1. The SDK's namespaces, and which of them the server routes. A
  //    namespace is routed when its search does not answer 404.
  const namespaces = Object.entries(clinik)
    .filter(([, v]) => v && typeof v === 'object' && typeof v.read === 'function')
    .map(([k]) => k)
    .sort();
  emit('*', 'inventory', namespaces.length > 0, `${namespaces.length} namespaces`, { namespaces });
  for (const ns of namespaces) {
    try {
      const res = await clinik[ns].search({ count: 1 });
      emit(ns, 'route', true, `search answered ${res.meta.status}`, { routed: true });
    } catch (err) {
      const unrouted = err instanceof ClinikApiError && err.status === 404;
      emit(ns, 'route', true, describe(err), { routed: !unrouted });
    }
  }

  // 2. What the examples point to, made through the SDK too.
  const fixtures = {};
  const fx = async (what, call) => {
    const data = await check('fixtures', what, call, (d) => (typeof d?.id === 'string' ? '' : 'no id in the answer'));
    return data?.id;
  };
  fixtures.practitioner = await fx('practitioner', () => clinik.practitioners.create({ firstName: 'Fixture', lastName: 'Doctor' }));
  fixtures.patient = await fx('patient', () => clinik.patients.create({ firstName: 'Fixture', lastName: 'Patient', generalPractitionerId: fixtures.practitioner }));
  fixtures.encounter = await fx('encounter', () => clinik.encounters.create({ status: 'finished', class: 'AMB', patientId: fixtures.patient, practitionerId: fixtures.practitioner }));
  if (!fixtures.practitioner || !fixtures.patient || !fixtures.encounter) {
    return; // every later check is then reported missing by the Go test
  }
  Object.assign(fixtures, await clinical.fixtures(clinik, fx, fixtures));
  Object.assign(fixtures, await administrative.fixtures(clinik, fx, fixtures));

  // 3. create → read → update → search for each implemented namespace.
  const created = {};
  for (const c of cycles) {
    const api = clinik[c.ns];
    if (!api) {
      emit(c.ns, 'create', false, 'the SDK has no such namespace');
      continue;
    }
    const body = example(c.example, fixtures);
    const sent = c.text.sent ? c.text.sent(body) : body[c.text.simple];
    const lookup = (d) => fieldProblem(d, c.text, sent);

    let meta;
    const made = await check(c.ns, 'create', () => api[c.create](body).then((r) => { meta = r.meta; return r; }), (d, m) => {
      if (typeof d?.id !== 'string' || d.id === '') return 'no id in the answer';
      if (m.status !== 201) return `status ${m.status}, want 201`;
      if (d.resourceType !== undefined && d.resourceType !== c.type) return `resourceType is not ${c.type}`;
      return '';
    });
    if (typeof made?.id !== 'string' || made.id === '') continue;
    const id = made.id;
    created[c.ns] = id;
    const serverDate = process.env.CLINIKAPI_SERVER_DATE;
    const stamped = serverDate ? meta.timestamp.startsWith(serverDate) : !Number.isNaN(Date.parse(meta.timestamp));
    emit(c.ns, 'meta', /^req_/.test(meta.requestId) && Number.isInteger(meta.rateLimitTotal) &&
      Number.isInteger(meta.rateLimitRemaining) && Number.isInteger(meta.rateLimitReset) && stamped,
    `requestId ${/^req_/.test(meta.requestId) ? 'req_…' : 'missing'}, rateLimit ${meta.rateLimitTotal}/${meta.rateLimitRemaining}/${meta.rateLimitReset}, ` +
    `timestamp ${stamped ? 'from X-Timestamp' : 'not the server\'s'}`);

    // read: the same id; a free-text field sent reads back where the
    // answer's shape keeps it.
    const read = await check(c.ns, 'read', () => api.read(id), (d) => idProblem(d, id, c.type));
    if (read) {
      const p = lookup(read);
      emit(c.ns, 'read-text', !p, p || `${c.text.simple} reads back (shape ${shapeOf(read)})`);
    }

    // update: a partial object (the SDK PATCHes it); the answer and a
    // fresh read reflect it.
    const u = c.update;
    const updated = await check(c.ns, 'update', () => api.update(id, u.body), (d, m) => {
      if (m.status !== 200) return `status ${m.status}, want 200`;
      return idProblem(d, id, c.type) || fieldProblem(d, u, u.want);
    });
    if (updated) {
      // …and, the PATCH being a merge, the free-text field it did not name
      // is still there.
      await check(c.ns, 'update-read', () => api.read(id),
        (d) => fieldProblem(d, u, u.want) || (u.simple !== c.text.simple ? lookup(d) : ''));
    }

    // search: finds it; the list has the SDK's PaginatedResponse shape.
    await check(c.ns, 'search', () => api.search({ ...c.search(fixtures), count: 100 }), (d) => {
      if (!Array.isArray(d?.data)) return 'data.data is not an array';
      if (typeof d.hasMore !== 'boolean') return `hasMore is ${typeof d.hasMore}, not a boolean`;
      if (d.total !== undefined && typeof d.total !== 'number') return 'total is not a number';
      if (!d.data.some((x) => x?.id === id)) return `the new resource is not among ${d.data.length} results`;
      return '';
    });
  }

  // Each search parameter, alone, finds what was made (now updated):
  // every parameter of the SDK's own search type for the namespace, and
  // for the namespaces the SDK types with the generic ResourceSearchParams
  // (patientId, status, dateFrom, dateTo, sort) the ones the contract
  // lists for the route.
  for (const c of cycles) {
    const id = created[c.ns];
    if (!id) continue;
    for (const [name, value] of Object.entries(c.params(fixtures))) {
      await check(c.ns, `search:${name}`, () => clinik[c.ns].search({ [name]: value, count: 100 }),
        (d) => (d?.data?.some((x) => x?.id === id) ? '' : `not found among ${d?.data?.length} results`));
    }
  }

  // 4. patients.read(id, {include}) → a Bundle the SDK spreads over
  //    PatientReadResponse; everything made above for the fixture patient
  //    is in its bucket.
  const types = Object.keys(includeBuckets);
  const bundle = await check('patients', 'read-include', () => clinik.patients.read(fixtures.patient, { include: types }), (d) => {
    if (d?.patient?.resourceType !== 'Patient' || d.patient.id !== fixtures.patient) {
      return 'the answer is not a Bundle holding the patient (PatientReadResponse.patient is empty)';
    }
    return '';
  });
  if (bundle) {
    const want = { encounters: [fixtures.encounter] };
    for (const c of cycles) {
      const bucket = includeBuckets[c.type];
      if (bucket && created[c.ns]) (want[bucket] ??= []).push(created[c.ns]);
    }
    for (const [bucket, ids] of Object.entries(want)) {
      const got = (bundle[bucket] ?? []).map((r) => r.id);
      const missing = ids.filter((x) => !got.includes(x)).length;
      emit('patients', `read-include:${bucket}`, missing === 0, missing ? `${missing} of ${ids.length} related resources missing` : `${ids.length} found`);
    }
  }

  // 5. The patients namespace beyond the cycle.
  // The SDK types patients' answers (create, read, update, search) as the
  // simplified PatientSummary: checked field by field on each of them.
  const summary = (want) => (d) => {
    if (shapeOf(d) !== 'simplified') return 'the answer is the stored FHIR resource, not a PatientSummary';
    const wrong = Object.entries(want).filter(([k, v]) => d?.[k] !== v).map(([k]) => k);
    return wrong.length ? `PatientSummary fields wrong or missing: ${wrong.join(', ')}` : '';
  };
  const fixtureSummary = { id: fixtures.patient, fullName: 'Fixture Patient', firstName: 'Fixture', lastName: 'Patient', generalPractitionerId: fixtures.practitioner, active: true };
  await check('patients', 'summary', () => clinik.patients.read(fixtures.patient), summary(fixtureSummary));
  const ada = { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phone: '+1-555-0142', gender: 'female', birthDate: '1815-12-10', maritalStatus: 'married' };
  const made = await check('patients', 'summary-create', () => clinik.patients.create(ada), summary({ ...ada, fullName: 'Ada Lovelace', active: true }));
  if (made?.id) {
    await check('patients', 'summary-update', () => clinik.patients.update(made.id, { phone: '+1-555-0143' }),
      summary({ ...ada, id: made.id, phone: '+1-555-0143', fullName: 'Ada Lovelace' }));
    await check('patients', 'summary-search', () => clinik.patients.search({ email: 'ada@example.com' }), (d) => {
      const row = d?.data?.find((x) => x?.id === made.id);
      return row ? summary({ ...ada, phone: '+1-555-0143', fullName: 'Ada Lovelace' })(row) : 'not found';
    });
    await clinik.patients.delete(made.id);
  }
  // Paging: count 1 of two patients has more, and the cursor moves on.
  const first = await check('patients', 'search-paging', () => clinik.patients.search({ count: 1 }), (d) => {
    if (d?.data?.length !== 1) return `${d?.data?.length} results for count 1`;
    if (d.hasMore !== true || typeof d.cursor !== 'string' || d.cursor === '') return 'no hasMore and cursor with more to come';
    return '';
  });
  if (first?.cursor) {
    await check('patients', 'search-cursor', () => clinik.patients.search({ count: 1, cursor: first.cursor }), (d) => {
      if (d?.data?.length !== 1) return `${d?.data?.length} results on the next page`;
      if (d.data[0].id === first.data[0].id) return 'the next page repeats the first';
      return '';
    });
  }

  // A contract violation is the SDK's validation error with the issues.
  try {
    await clinik.patients.create({ firstName: 'Only' });
    emit('patients', 'validation', false, 'a patient without lastName was accepted');
  } catch (err) {
    const ok = err instanceof ClinikValidationError && err.status === 422 && Array.isArray(err.issues) && err.issues.length > 0;
    emit('patients', 'validation', ok, describe(err));
  }

  // 6. The raw FHIR escape hatch: bare FHIR resources and Bundles, PUT,
  // and a JSON Patch (the SDK sends application/json-patch+json).
  const raw = await check('fhir', 'create', () => clinik.fhir.request('POST', '/Observation', {
    resourceType: 'Observation', status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: `Patient/${fixtures.patient}` },
    valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  }), (d, m) => (m.status !== 201 ? `status ${m.status}, want 201` : d?.resourceType !== 'Observation' || !d.id ? 'not the stored Observation' : ''));
  if (raw) {
    await check('fhir', 'read', () => clinik.fhir.request('GET', `/Observation/${raw.id}`), (d) => idProblem(d, raw.id, 'Observation'));
    await check('fhir', 'update', () => clinik.fhir.request('PUT', `/Observation/${raw.id}`, { ...raw, status: 'amended' }),
      (d) => (d?.status !== 'amended' ? 'PUT did not change status' : d.meta?.versionId !== '2' ? 'versionId is not 2' : ''));
    await check('fhir', 'patch', () => clinik.fhir.request('PATCH', `/Observation/${raw.id}`, [{ op: 'replace', path: '/status', value: 'corrected' }]),
      (d) => (d?.status !== 'corrected' ? 'the JSON Patch did not apply' : ''));
    await check('fhir', 'search', () => clinik.fhir.request('GET', `/Observation?subject=Patient/${fixtures.patient}&code=8867-4`), (d) => {
      if (d?.resourceType !== 'Bundle' || d.type !== 'searchset') return 'not a searchset Bundle';
      if (!d.entry?.some((e) => e.resource?.id === raw.id)) return 'the Observation is not in the Bundle';
      return '';
    });
    await check('fhir', 'delete', () => clinik.fhir.request('DELETE', `/Observation/${raw.id}`), (d, m) => (m.status === 204 ? '' : `status ${m.status}, want 204`));
  }

  // 7. The SDK's error types for an unknown key (401) and a rate limit
  //    (429 with Retry-After).
  try {
    await new Clinik(`clk_test_${'A'.repeat(32)}`, { baseUrl, retries: 0 }).patients.search();
    emit('client', 'auth', false, 'an unknown key was accepted');
  } catch (err) {
    emit('client', 'auth', err instanceof ClinikAuthError && err.status === 401, describe(err));
  }
  const limitedKey = process.env.CLINIKAPI_API_KEY_LIMITED;
  if (limitedKey) {
    const limited = new Clinik(limitedKey, { baseUrl, retries: 0 });
    let outcome;
    for (let i = 0; i < 20 && !outcome; i++) {
      try {
        await limited.patients.search({ count: 1 });
      } catch (err) {
        outcome = err;
      }
    }
    const ok = outcome instanceof ClinikRateLimitError && outcome.status === 429 &&
      Number.isInteger(outcome.retryAfter) && outcome.retryAfter > 0;
    emit('client', 'rate-limit', ok, outcome ? `${describe(outcome)}, retryAfter ${outcome.retryAfter}` : 'no 429 in 20 requests');
  }

  // 8. delete → gone: the next read throws the SDK's 404 error.
  for (const c of cycles) {
    const id = created[c.ns];
    if (!id) continue;
    const api = clinik[c.ns];
    await check(c.ns, 'delete', () => api.delete(id), (d, m) => (m.status === 204 ? '' : `status ${m.status}, want 204`));
    try {
      await api.read(id);
      emit(c.ns, 'read-after-delete', false, 'still readable after delete');
    } catch (err) {
      const ok = err instanceof ClinikApiError && err.status === 404 && err.code === 'NOT_FOUND';
      emit(c.ns, 'read-after-delete', ok, describe(err));
    }
  }
}

main().catch((err) => {
  emit('*', 'suite', false, `the suite crashed: ${describe(err)}`);
  process.exitCode = 1;
});
