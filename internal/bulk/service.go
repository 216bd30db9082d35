package bulk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/encryption"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/resource"
)

// Quota counts imported records (and dashboard exports, once each) against
// the monthly pool.
type Quota interface {
	// Reserve counts n records of orgID in env, refusing them all
	// (errs.RateLimited with reason MONTHLY_QUOTA_EXCEEDED or
	// SANDBOX_QUOTA_EXCEEDED) when they do not fit.
	Reserve(ctx context.Context, orgID, env string, n int64) error
	// Count counts n records whatever the pool says (work already done).
	Count(ctx context.Context, orgID, env string, n int64) error
}

// Service runs the bulk capability.
type Service struct {
	Store   Store
	Records *records.Service // where data lives; creates, validated and audited
	Quota   Quota
	Audit   *audit.Log
	Signer  Signer
	Dir     string // export files and staged imports
	// Files encrypts export files and staged imports at rest (AES-256-GCM).
	Files *encryption.Files
	Log   *slog.Logger
	Now   func() time.Time
	// Lease is how long a worker holds a job between progress reports.
	Lease time.Duration
	// FenceWait bounds how long an import waits out the write fence of a
	// move of the organization's data to another datastore (default
	// DefaultFenceWait) before it fails the record it holds.
	FenceWait time.Duration

	holderOnce sync.Once
	holder     string
}

// Actor is who starts a job.
type Actor struct {
	OrgID string
	// Tenant is the sub-organization whose data the job reads or writes
	// ("" for the organization's own).
	Tenant string
	Env    string // test or live
	Type   audit.ActorType
	ID     string // key id or user id
}

func (s *Service) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return 2 * time.Minute
}

// holderID names this instance's worker in leases.
func (s *Service) holderID() string {
	s.holderOnce.Do(func() { s.holder = random.ID("wrk") })
	return s.holder
}

// ExportRequest is what an export asks for.
type ExportRequest struct {
	ResourceTypes []string
	Since         time.Time
}

// allow applies the per-organization hourly limit.
func (s *Service) allow(ctx context.Context, orgID string) error {
	now := s.Now()
	n, oldest, err := s.Store.CountBulkJobsSince(ctx, orgID, now.Add(-time.Hour))
	if err != nil {
		return err
	}
	if n >= PerHour {
		retry := max(time.Second, oldest.Add(time.Hour).Sub(now))
		return &errs.Error{Code: errs.RateLimited, Reason: errs.ReasonRateLimited, RetryAfter: retry,
			Message: fmt.Sprintf("Bulk operations are limited to %d per hour per organization. Retry in %d seconds.", PerHour, int(retry.Seconds()+0.999))}
	}
	return nil
}

func (s *Service) newJob(a Actor, kind Kind, types []string) Job {
	return Job{
		ID: random.ID("job"), OrgID: a.OrgID, TenantID: a.Tenant, Env: a.Env, Kind: kind, Status: Pending, ResourceTypes: types,
		ActorType: string(a.Type), ActorID: a.ID, CreatedAt: s.Now().UTC(),
	}
}

func (s *Service) record(ctx context.Context, j Job, action string, detail map[string]string) {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["env"] = j.Env
	detail["kind"] = string(j.Kind)
	if j.TenantID != "" {
		detail["tenant"] = j.TenantID
	}
	at, id := audit.ActorType(j.ActorType), j.ActorID
	s.Audit.Record(ctx, audit.Event{OrgID: j.OrgID, ActorType: at, ActorID: id, Action: action, TargetType: "bulk_job", TargetID: j.ID, Detail: detail})
}

// StartExport queues an export of the actor's organization and environment.
func (s *Service) StartExport(ctx context.Context, a Actor, r ExportRequest) (Job, error) {
	for _, t := range r.ResourceTypes {
		if !validType(t) {
			return Job{}, errs.FieldError("resourceTypes", "must list FHIR resource type names such as Patient")
		}
	}
	if err := s.allow(ctx, a.OrgID); err != nil {
		return Job{}, err
	}
	j := s.newJob(a, Export, r.ResourceTypes)
	j.Since = r.Since
	if err := s.Store.CreateBulkJob(ctx, j); err != nil {
		return Job{}, err
	}
	s.record(ctx, j, ActionExportStarted, map[string]string{"types": strings.Join(r.ResourceTypes, ",")})
	// An export is one bulk operation, whatever its size (the hourly bulk
	// limit bounds them): the API request that starts one was counted by
	// the pipeline; one started from the dashboard counts once here.
	if a.Type != audit.ActorAPIKey {
		if err := s.Quota.Count(ctx, a.OrgID, a.Env, 1); err != nil {
			s.Log.Error("bulk export: counting the export against the quota failed", "job", j.ID, "err", err)
		}
	}
	return j, nil
}

func validType(t string) bool {
	if t == "" || len(t) > 64 || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	return TypeOfFile(t+".ndjson") == t
}

// CountLines counts the non-blank lines of NDJSON.
func CountLines(data string) int {
	n := 0
	for line := range strings.Lines(data) {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

// StartImport checks and stages an import of NDJSON records of typ.
func (s *Service) StartImport(ctx context.Context, a Actor, typ, data string) (Job, error) {
	if !validType(typ) {
		return Job{}, errs.FieldError("resourceType", "must be a FHIR resource type name such as Patient")
	}
	if len(data) > MaxImportBytes {
		return Job{}, errs.FieldError("data", "must be at most %d bytes", MaxImportBytes)
	}
	n := CountLines(data)
	switch {
	case n == 0:
		return Job{}, errs.FieldError("data", "must hold at least one NDJSON record")
	case n > MaxImportRecords:
		return Job{}, errs.FieldError("data", "holds %d records; at most %d records per import — split it into several imports", n, MaxImportRecords)
	}
	if err := s.allow(ctx, a.OrgID); err != nil {
		return Job{}, err
	}
	if err := s.Quota.Reserve(ctx, a.OrgID, a.Env, int64(n)); err != nil {
		return Job{}, err
	}
	j := s.newJob(a, Import, []string{typ})
	j.Total = n
	if err := os.MkdirAll(s.importDir(), 0o700); err != nil {
		return Job{}, err
	}
	// Stage under a temporary name; the job exists only once the file is whole.
	tmp := s.stagedPath(j.ID) + ".tmp"
	if err := s.writeSealed(tmp, func(w io.Writer) error { _, err := io.WriteString(w, data); return err }); err != nil {
		return Job{}, err
	}
	if err := os.Rename(tmp, s.stagedPath(j.ID)); err != nil {
		return Job{}, err
	}
	if err := s.Store.CreateBulkJob(ctx, j); err != nil {
		os.Remove(s.stagedPath(j.ID))
		return Job{}, err
	}
	s.record(ctx, j, ActionImportStarted, map[string]string{"type": typ, "records": strconv.Itoa(n)})
	return j, nil
}

// Job returns one of orgID's jobs; another organization's is NotFound.
func (s *Service) Job(ctx context.Context, orgID, id string) (Job, error) {
	if !strings.HasPrefix(id, "job_") || len(id) > 64 {
		return Job{}, errs.E(errs.NotFound, "Bulk job not found.")
	}
	return s.Store.FindBulkJob(ctx, orgID, id)
}

// JobIn returns orgID's job id only when it belongs to env: an API key
// reads the jobs of its own environment, like the data they carry.
func (s *Service) JobIn(ctx context.Context, orgID, tenant, env, id string) (Job, error) {
	j, err := s.Job(ctx, orgID, id)
	if err != nil {
		return Job{}, err
	}
	if j.Env != env || j.TenantID != tenant {
		return Job{}, errs.E(errs.NotFound, "Bulk job not found.")
	}
	return j, nil
}

// Jobs lists orgID's recent jobs, newest first.
func (s *Service) Jobs(ctx context.Context, orgID string, limit int) ([]Job, error) {
	return s.Store.ListBulkJobs(ctx, orgID, limit)
}

func (s *Service) importDir() string           { return filepath.Join(s.Dir, "imports") }
func (s *Service) stagedPath(id string) string { return filepath.Join(s.importDir(), id+".ndjson") }
func (s *Service) exportPath(id string) string { return filepath.Join(s.Dir, id) }

// OpenFile opens a completed export's file for download, after the link
// was checked. The audit trail records the download (by whoever holds the
// link: anonymous).
func (s *Service) OpenFile(ctx context.Context, j Job, name string) (io.ReadCloser, error) {
	return s.OpenFileFor(ctx, j, name, Actor{Type: audit.ActorNone})
}

// OpenFileFor is OpenFile for a known person (a dashboard download): the
// audit trail names them.
func (s *Service) OpenFileFor(ctx context.Context, j Job, name string, by Actor) (io.ReadCloser, error) {
	if !j.Downloadable(s.Now()) {
		return nil, &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This export's files are no longer available; start a new export."}
	}
	for _, f := range j.Files {
		if f.Name == name {
			fh, err := s.openSealed(filepath.Join(s.exportPath(j.ID), name))
			if err != nil {
				s.Log.ErrorContext(ctx, "bulk export: opening a file failed", "job", j.ID, "err", err)
				return nil, &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This export's files are no longer available; start a new export."}
			}
			s.Audit.RecordAsync(ctx, audit.Event{OrgID: j.OrgID, ActorType: by.Type, ActorID: by.ID, Action: ActionDownloaded, TargetType: "bulk_job", TargetID: j.ID, Detail: map[string]string{"file": name}})
			return fh, nil
		}
	}
	return nil, errs.E(errs.NotFound, "No such file in this export.")
}

// FindForLink returns the job a download link names, whichever
// organization it belongs to: the link's signature, checked by the caller
// against the job's organization, is what authorizes it.
func (s *Service) FindForLink(ctx context.Context, id string) (Job, error) {
	if !strings.HasPrefix(id, "job_") || len(id) > 64 {
		return Job{}, &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This download link is not valid."}
	}
	j, err := s.Store.FindBulkJob(ctx, "", id)
	if errs.Is(err, errs.NotFound) {
		return Job{}, &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This download link is not valid."}
	}
	return j, err
}

// Work runs claimable jobs until there are none left (or ctx ends) and
// returns how many it ran.
func (s *Service) Work(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		now := s.Now()
		j, ok, err := s.Store.ClaimBulkJob(ctx, s.holderID(), now, now.Add(s.lease()))
		if err != nil || !ok {
			return n, err
		}
		n++
		s.run(ctx, j)
	}
	return n, ctx.Err()
}

// Run polls for work every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Work(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("bulk worker failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errLostLease stops a job whose lease another worker took over.
var errLostLease = errors.New("bulk: lease lost")

func (s *Service) run(ctx context.Context, j Job) {
	var err error
	switch {
	case j.Kind == Import && j.Attempts > 1:
		// Records may already be stored: running it again could duplicate
		// them, so an interrupted import fails with what is known.
		err = fmt.Errorf("interrupted")
		j.Errors = append(j.Errors, fmt.Sprintf("The import was interrupted by a server restart after at least %d of %d records were imported. Check what was imported and import the rest again.", j.Processed, j.Total))
	case j.Kind == Export && j.Attempts > MaxAttempts:
		err = fmt.Errorf("too many attempts")
		j.Errors = append(j.Errors, "The export was interrupted too often; start a new export.")
	case j.Kind == Export:
		err = s.runExport(ctx, &j)
	case j.Kind == Import:
		err = s.runImport(ctx, &j)
	}
	if errors.Is(err, errLostLease) || ctx.Err() != nil {
		return // another worker has it, or we are shutting down: the lease runs out and it is claimed again
	}
	j.FinishedAt = s.Now().UTC()
	j.Status = Completed
	action := ActionJobCompleted
	if err != nil {
		j.Status, action = Failed, ActionJobFailed
		if len(j.Errors) == 0 {
			j.Errors = append(j.Errors, "The job failed because of a server error; start it again.")
		}
		s.Log.Error("bulk job failed", "job", j.ID, "kind", j.Kind, "err", err)
	}
	if j.Kind == Export && err == nil {
		j.ExpiresAt = j.FinishedAt.Add(LinkLifetime)
	}
	if j.Kind == Import {
		os.Remove(s.stagedPath(j.ID))
	}
	if ferr := s.Store.FinishBulkJob(context.WithoutCancel(ctx), j, s.holderID()); ferr != nil {
		s.Log.Error("bulk job: storing the outcome failed", "job", j.ID, "err", ferr)
	}
	s.record(ctx, j, action, map[string]string{"processed": strconv.Itoa(j.Processed), "total": strconv.Itoa(j.Total), "errors": strconv.Itoa(len(j.Errors))})
}

// actor is who a job acts as, in the records service.
func (j Job) actor() records.Actor {
	return records.Actor{OrgID: j.OrgID, Tenant: j.TenantID, Env: j.Env, Type: audit.ActorType(j.ActorType), ID: j.ActorID, BulkJob: j.ID}
}

// progress reports progress and renews the lease.
func (s *Service) progress(ctx context.Context, j *Job) error {
	ok, err := s.Store.ProgressBulkJob(ctx, j.ID, s.holderID(), j.Total, j.Processed, s.Now().Add(s.lease()))
	if err != nil {
		return err
	}
	if !ok {
		return errLostLease
	}
	return nil
}

// runExport writes one NDJSON file per resource type into a temporary
// directory, streaming page by page, and renames it into place only when
// every file is complete: a half-written export is never served.
func (s *Service) runExport(ctx context.Context, j *Job) error {
	ds, tenant, err := s.Records.DatastoreOf(ctx, j.actor())
	if err != nil {
		return err
	}
	types := j.ResourceTypes
	if len(types) == 0 {
		if types, err = ds.ResourceTypes(ctx, tenant); err != nil {
			return err
		}
	}
	j.Total, j.Processed, j.Files = 0, 0, nil
	counts := make([]int, len(types))
	for i, t := range types {
		n, err := ds.Count(ctx, tenant, t, j.Since)
		if err != nil {
			return err
		}
		counts[i] = n
		j.Total += n
	}
	if err := s.progress(ctx, j); err != nil {
		return err
	}
	tmp := s.exportPath(j.ID) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	for _, t := range types {
		f, err := s.exportType(ctx, ds, tenant, j, t, tmp)
		if err != nil {
			os.RemoveAll(tmp)
			return err
		}
		j.Files = append(j.Files, f)
	}
	j.Total = j.Processed // resources written or deleted while exporting
	if err := os.RemoveAll(s.exportPath(j.ID)); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.exportPath(j.ID)); err != nil {
		return err
	}
	return nil
}

func (s *Service) exportType(ctx context.Context, ds *datastore.Store, tenant datastore.Tenant, j *Job, typ, dir string) (File, error) {
	name := FileName(typ)
	file := File{Type: typ, Name: name}
	actor := j.actor()
	err := s.writeSealed(filepath.Join(dir, name), func(out io.Writer) error {
		w := bufio.NewWriterSize(out, 256<<10)
		err := ds.Each(ctx, tenant, typ, j.Since, func(r datastore.Record) error {
			s.Records.DiscloseExport(ctx, actor, []datastore.Record{r})
			w.Write(r.Content)
			if err := w.WriteByte('\n'); err != nil {
				return err
			}
			file.Count++
			file.Bytes += int64(len(r.Content) + 1)
			j.Processed++
			if j.Processed%datastore.ScanPage == 0 {
				return s.progress(ctx, j)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return w.Flush()
	})
	return file, err
}

// writeSealed creates path (mode 0600) and writes it through fn,
// encrypted when the service has Files, then syncs it.
func (s *Service) writeSealed(path string, fn func(io.Writer) error) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer fh.Close()
	var w io.Writer = fh
	var sealed *encryption.Writer
	if s.Files != nil {
		if sealed, err = s.Files.Encrypt(fh); err != nil {
			return err
		}
		w = sealed
	}
	if err := fn(w); err != nil {
		return err
	}
	if sealed != nil {
		if err := sealed.Close(); err != nil {
			return err
		}
	}
	if err := fh.Sync(); err != nil {
		return err
	}
	return fh.Close()
}

// openSealed opens a file writeSealed wrote, decrypting it.
func (s *Service) openSealed(path string) (io.ReadCloser, error) {
	fh, err := os.Open(path)
	if err != nil || s.Files == nil {
		return fh, err
	}
	r, err := s.Files.Decrypt(fh)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return readCloser{r, fh}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// runImport creates each record of the staged NDJSON through the same path
// as the API: contract validation and conversion for simplified records,
// schema validation, tenant tag injection (a forged tag is dropped), audit.
// Bad lines are skipped and reported by number and reason, never value.
func (s *Service) runImport(ctx context.Context, j *Job) error {
	fh, err := s.openSealed(s.stagedPath(j.ID))
	if err != nil {
		j.Errors = append(j.Errors, "The import's data is gone (the server lost it); start the import again.")
		return err
	}
	defer fh.Close()
	typ := j.ResourceTypes[0]
	var def *resource.Def
	for _, d := range resource.All {
		if d.Type == typ {
			def = d
			break
		}
	}
	r := bufio.NewReaderSize(fh, 1<<20)
	line := 0
	for {
		b, rerr := r.ReadBytes('\n')
		if len(b) > 0 {
			line++
			msg, err := s.importLine(ctx, j, def, typ, b)
			if err != nil {
				return err // the lease was lost, or the server stops
			}
			if msg != "" {
				j.addError(line, msg)
			} else if strings.TrimSpace(string(b)) != "" {
				j.Processed++
			}
			if line%200 == 0 {
				if err := s.progress(ctx, j); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if j.Processed > 0 {
		if ds, _, err := s.Records.Datastore(ctx, j.OrgID, j.Env); err == nil {
			_ = ds.Analyze(ctx)
		}
	}
	return nil
}

func (j *Job) addError(line int, msg string) {
	switch {
	case len(j.Errors) < MaxErrors:
		j.Errors = append(j.Errors, "line "+strconv.Itoa(line)+": "+msg)
	case len(j.Errors) == MaxErrors:
		j.Errors = append(j.Errors, "more errors were found; only the first "+strconv.Itoa(MaxErrors)+" are listed")
	}
}

// importLine stores one NDJSON line and returns why it was skipped ("" when
// it was stored or blank). The reason names fields and rules, never values.
func (s *Service) importLine(ctx context.Context, j *Job, def *resource.Def, typ string, b []byte) (string, error) {
	if strings.TrimSpace(string(b)) == "" {
		return "", nil
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return "not a JSON object", nil
	}
	var res fhir.Resource
	if rt, ok := obj["resourceType"]; ok {
		if rt != typ {
			return "resourceType must be " + typ + " (this import is for " + typ + ")", nil
		}
		res = fhir.Resource(obj)
	} else {
		if def == nil {
			return "resourceType is required (" + typ + " has no simplified form; send FHIR resources)", nil
		}
		var err error
		if res, err = s.Records.ConvertSimple(def, obj); err != nil {
			return issueText(err), nil
		}
	}
	delete(res, "id") // a new id is assigned, as on create
	if err := s.create(ctx, j, res); err != nil {
		if errs.Is(err, errs.Invalid) {
			return issueText(err), nil
		}
		if errors.Is(err, datastore.ErrFenced) {
			return fmt.Sprintf("could not be stored: the organization's data was being moved to another datastore for over %s; import this record again", s.fenceWait()), nil
		}
		if errors.Is(err, errLostLease) || ctx.Err() != nil {
			return "", err
		}
		s.Log.Error("bulk import: storing a record failed", "job", j.ID, "err", err)
		return "could not be stored (server error)", nil
	}
	return "", nil
}

// DefaultFenceWait is how long an import waits out a move's write fence
// by default: a fence lasts the seconds it takes to copy and verify the
// last changes, and requests may reach the old datastore for a few
// seconds more while instances learn the new one.
const DefaultFenceWait = 2 * time.Minute

func (s *Service) fenceWait() time.Duration {
	if s.FenceWait > 0 {
		return s.FenceWait
	}
	return DefaultFenceWait
}

// create stores one imported record. A move of the organization's data
// fences its writes for a moment (datastore.ErrFenced, 503 with
// Retry-After on the API): the import waits as long as the answer says
// and tries the record again, renewing its lease meanwhile, until the
// fence is lifted or fenceWait has passed. A fenced write was refused
// inside its transaction, so trying again never stores a record twice.
func (s *Service) create(ctx context.Context, j *Job, res fhir.Resource) error {
	deadline := time.Now().Add(s.fenceWait())
	for {
		_, err := s.Records.Create(ctx, j.actor(), res)
		if !errors.Is(err, datastore.ErrFenced) {
			return err
		}
		wait := max(errs.RetryAfterOf(err), 100*time.Millisecond)
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if err := s.progress(ctx, j); err != nil {
			return err
		}
	}
}

// issueText lists the first issues of a validation failure.
func issueText(err error) string {
	issues := errs.IssuesOf(err)
	parts := make([]string, 0, min(len(issues), 5))
	for i, is := range issues {
		if i == 5 {
			break
		}
		parts = append(parts, is.Diagnostics)
	}
	if len(parts) == 0 {
		return errs.MessageOf(err)
	}
	return strings.Join(parts, "; ")
}

// RemoveExpired deletes the files of exports whose links expired and
// returns how many exports it cleaned up. Stale temporary directories and
// staged imports of finished jobs go too.
func (s *Service) RemoveExpired(ctx context.Context) (int, error) {
	jobs, err := s.Store.ExpiredExports(ctx, s.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if err := os.RemoveAll(s.exportPath(j.ID)); err != nil {
			return n, err
		}
		if err := s.Store.MarkFilesRemoved(ctx, j.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ForgetOrg removes an organization's export files, staged imports and
// jobs (organization deletion).
func (s *Service) ForgetOrg(ctx context.Context, orgID string) (int, error) {
	jobs, err := s.Store.DeleteOrgBulkJobs(ctx, orgID)
	s.removeFiles(jobs)
	return len(jobs), err
}

// ForgetTenant removes a sub-organization's export files, staged imports
// and jobs (its data is being deleted).
func (s *Service) ForgetTenant(ctx context.Context, orgID, tenant string) (int, error) {
	jobs, err := s.Store.DeleteTenantBulkJobs(ctx, orgID, tenant)
	s.removeFiles(jobs)
	return len(jobs), err
}

func (s *Service) removeFiles(jobs []Job) {
	for _, j := range jobs {
		os.RemoveAll(s.exportPath(j.ID))
		os.RemoveAll(s.exportPath(j.ID) + ".tmp")
		os.Remove(s.stagedPath(j.ID))
	}
}
