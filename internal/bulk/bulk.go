// Package bulk holds bulk export and import jobs: their types and states,
// the rules (rate limit, record limits, scopes), the signed download links,
// and the worker that runs jobs from the database with a lease so that a
// restart resumes or fails them cleanly.
package bulk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Kind is what a job does.
type Kind string

const (
	Export Kind = "export"
	Import Kind = "import"
)

// Status is where a job is: pending → processing → completed | failed.
type Status string

const (
	Pending    Status = "pending"
	Processing Status = "processing"
	Completed  Status = "completed"
	Failed     Status = "failed"
)

// Rules of the bulk API (the contract and DESIGN.md).
const (
	// PerHour is how many bulk operations an organization may start per
	// rolling hour.
	PerHour = 5
	// MaxImportRecords is the most records one import may carry.
	MaxImportRecords = 10_000
	// MaxImportBytes is the most NDJSON one import may carry (the
	// contract's maxLength of data).
	MaxImportBytes = 100 << 20
	// LinkLifetime is how long an export's download links work; the files
	// are removed after it.
	LinkLifetime = time.Hour
	// MaxErrors is how many per-line errors a job keeps.
	MaxErrors = 1000
	// MaxAttempts is how often an export is started again after its
	// worker died before it is failed.
	MaxAttempts = 3
)

// Audit actions of this capability.
const (
	ActionExportStarted = "bulk.export_started"
	ActionImportStarted = "bulk.import_started"
	ActionJobCompleted  = "bulk.job_completed"
	ActionJobFailed     = "bulk.job_failed"
	ActionDownloaded    = "bulk.file_downloaded"
	ActionFilesRemoved  = "retention.export_files_removed"
)

// Job is one bulk export or import.
type Job struct {
	ID            string // job_…
	OrgID         string
	TenantID      string // the sub-organization's data ("" for the organization's)
	Env           string // test or live
	Kind          Kind
	Status        Status
	ResourceTypes []string  // export: the types asked for (empty: all); import: the one type
	Since         time.Time // export: only resources updated at or after it
	Total         int       // records to process (known once processing started)
	Processed     int       // records exported or imported
	Errors        []string  // "line N: reason", never values
	Files         []File    // export output, once completed
	ActorType     string    // api_key or user
	ActorID       string
	Attempts      int
	CreatedAt     time.Time
	StartedAt     time.Time
	FinishedAt    time.Time
	ExpiresAt     time.Time // export: when the download links stop working
	FilesRemoved  bool
}

// File is one NDJSON file of an export: one per resource type.
type File struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

// Downloadable reports whether the export's files can be fetched at now.
func (j Job) Downloadable(now time.Time) bool {
	return j.Kind == Export && j.Status == Completed && !j.FilesRemoved && now.Before(j.ExpiresAt)
}

// Percent is the progress for a progress bar, 0..100.
func (j Job) Percent() int {
	switch {
	case j.Status == Completed:
		return 100
	case j.Total <= 0:
		return 0
	}
	return min(100, j.Processed*100/j.Total)
}

// Store persists jobs. Claims are atomic: two workers never hold one job.
type Store interface {
	CreateBulkJob(ctx context.Context, j Job) error
	// FindBulkJob returns orgID's job id; NotFound for another
	// organization's job.
	FindBulkJob(ctx context.Context, orgID, id string) (Job, error)
	ListBulkJobs(ctx context.Context, orgID string, limit int) ([]Job, error)
	// CountBulkJobsSince counts orgID's jobs created at or after since and
	// returns the oldest creation time among them.
	CountBulkJobsSince(ctx context.Context, orgID string, since time.Time) (int, time.Time, error)
	// ClaimBulkJob takes the oldest pending job, or a processing one whose
	// lease ran out, for holder until leaseUntil, counting the attempt.
	ClaimBulkJob(ctx context.Context, holder string, now, leaseUntil time.Time) (Job, bool, error)
	// ProgressBulkJob stores progress and extends the lease; false when
	// holder no longer holds the job.
	ProgressBulkJob(ctx context.Context, id, holder string, total, processed int, leaseUntil time.Time) (bool, error)
	// FinishBulkJob stores the final state of holder's job.
	FinishBulkJob(ctx context.Context, j Job, holder string) error
	// ExpiredExports lists completed exports whose links expired before
	// now and whose files are still there.
	ExpiredExports(ctx context.Context, now time.Time) ([]Job, error)
	MarkFilesRemoved(ctx context.Context, id string) error
	// DeleteOrgBulkJobs forgets an organization's jobs (deletion).
	DeleteOrgBulkJobs(ctx context.Context, orgID string) ([]Job, error)
	// DeleteTenantBulkJobs forgets a sub-organization's jobs (deletion).
	DeleteTenantBulkJobs(ctx context.Context, orgID, tenant string) ([]Job, error)
}

// Signer makes and checks download links bound to an organization, a job,
// a file and an expiry. Links carry no secret and no PHI.
type Signer struct{ Secret []byte }

func (s Signer) mac(orgID, jobID, name string, expires int64) string {
	h := hmac.New(sha256.New, s.Secret)
	h.Write([]byte(orgID + "\x00" + jobID + "\x00" + name + "\x00" + strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Query returns the expires and sig query parameters of a link.
func (s Signer) Query(orgID, jobID, name string, expires time.Time) string {
	e := expires.Unix()
	return "expires=" + strconv.FormatInt(e, 10) + "&sig=" + s.mac(orgID, jobID, name, e)
}

// Check verifies a link's query at now. Tampered and expired links are
// both Forbidden.
func (s Signer) Check(orgID, jobID, name string, q url.Values, now time.Time) error {
	e, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(s.mac(orgID, jobID, name, e))) {
		return &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This download link is not valid. Get a fresh one from the job status."}
	}
	if now.Unix() >= e {
		return &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This download link expired. Export files are kept for one hour after the export completes; start a new export."}
	}
	return nil
}

// Link is one export file's signed download link.
type Link struct {
	Type  string `json:"type"`
	Name  string `json:"-"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

// Links returns the signed links of an export under baseURL: the manifest
// (listing the files) and one per file. They all expire with the export.
func (s Signer) Links(baseURL string, j Job) (string, []Link) {
	base := baseURL + "/v1/bulk/files/" + j.ID
	files := make([]Link, len(j.Files))
	for i, f := range j.Files {
		files[i] = Link{Type: f.Type, Name: f.Name, Count: f.Count, URL: base + "/" + f.Name + "?" + s.Query(j.OrgID, j.ID, f.Name, j.ExpiresAt)}
	}
	return base + "?" + s.Query(j.OrgID, j.ID, "", j.ExpiresAt), files
}

// FileName is the NDJSON file name of a resource type.
func FileName(typ string) string { return typ + ".ndjson" }

// TypeOfFile is the resource type of an export file name, "" when name is
// not one.
func TypeOfFile(name string) string {
	t, ok := strings.CutSuffix(name, ".ndjson")
	if !ok || t == "" {
		return ""
	}
	for _, c := range t {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return ""
		}
	}
	return t
}
