package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
)

// CloudTrail Lake's imports: StartImport copies the trail logs under an
// S3 location into the event data store, as `opentrail import` does from
// the command line. The location is a bucket of the server's object store
// (its built-in store, or the S3-compatible service trails deliver to),
// read with the server's credentials; the role ARN Lake requires is
// checked for form only. Imports are kept in the store's meta table, so
// GetImport and ListImports answer after a restart, and an import that was
// running when the server stopped resumes when it starts again, after the
// files it had finished (a resume state file per import under the data
// directory).

const (
	importInitializing = "INITIALIZING"
	importInProgress   = "IN_PROGRESS"
	importFailed       = "FAILED"
	importStopped      = "STOPPED"
	importCompleted    = "COMPLETED"

	codeImportNotFound       = "ImportNotFoundException"
	codeOngoingImport        = "AccountHasOngoingImportException"
	codeInvalidImportSource  = "InvalidImportSourceException"
	importsMetaKey           = "lake/imports"
	maxImportFailures        = 1000 // kept per import
	importSaveEvery          = 5 * time.Second
	importIngestSource       = "lake-import"
	importFailureFailed      = "FAILED"
	importFailureFileError   = "FileError"
	importFailureRecordError = "RecordError"
	importFailureImportError = "ImportError"
)

// S3ImportSource is where an import reads.
type S3ImportSource struct {
	S3LocationUri         string
	S3BucketRegion        string
	S3BucketAccessRoleArn string
}

// ImportSource is StartImport's source.
type ImportSource struct {
	S3 *S3ImportSource `json:",omitempty"`
}

// ImportStatistics count an import's progress.
type ImportStatistics struct {
	PrefixesFound     int64
	PrefixesCompleted int64
	FilesCompleted    int64
	EventsCompleted   int64
	FailedEntries     int64
}

// ImportFailure is one entry of ListImportFailures.
type ImportFailure struct {
	Location        string
	Status          string
	ErrorType       string
	ErrorMessage    string
	LastUpdatedTime awsapi.Time
}

// lakeImport is one import as the store keeps it. Its fields are guarded
// by lakeImports.mu.
type lakeImport struct {
	ID          string
	Account     string
	Management  bool // started by the organisation's management account
	Destination string
	Source      S3ImportSource
	Start, End  *time.Time `json:",omitempty"`
	Status      string
	Created     time.Time
	Updated     time.Time
	Stats       ImportStatistics
	Failures    []ImportFailure `json:",omitempty"`

	run *importRun // the running import, nil when none
}

// importRun is the live state of a running import.
type importRun struct {
	cancel   context.CancelFunc
	stopped  bool // StopImport cancelled it
	done     chan struct{}
	im       *importer.Importer      // set once the source is open; guarded by lakeImports.mu
	prefixes map[string]*prefixCount // guarded by lakeImports.mu
}

type prefixCount struct{ listed, read int64 }

// lakeImports holds a Service's imports. The zero value is ready; load
// fills it from the store on first use.
type lakeImports struct {
	mu     sync.Mutex
	m      map[string]*lakeImport
	loaded bool
	ctx    context.Context // parent of every run; set by Start
	wg     sync.WaitGroup
}

// importStore is what imports need of the store.
func (s *Service) importStore() (Meta, error) {
	st := s.meta
	if st == nil || s.importSink == nil || s.buckets == nil || s.stateDir == "" {
		return nil, awsapi.NewError(codeUnsupportedOperation, "Imports are not available on this server.")
	}
	return st, nil
}

// loadImports reads the kept imports once. Call with mu held.
func (s *Service) loadImports(ctx context.Context, st Meta) error {
	li := &s.imports
	if li.loaded {
		return nil
	}
	li.m = map[string]*lakeImport{}
	b, err := st.Meta(ctx, importsMetaKey)
	if errors.Is(err, store.ErrNotFound) {
		li.loaded = true
		return nil
	}
	if err != nil {
		return err
	}
	var list []*lakeImport
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("imports in the store are damaged: %w", err)
	}
	for _, imp := range list {
		li.m[imp.ID] = imp
	}
	li.loaded = true
	return nil
}

// saveImports writes every import to the store. Call with mu held.
func (s *Service) saveImports(ctx context.Context, st Meta) error {
	list := make([]*lakeImport, 0, len(s.imports.m))
	for _, imp := range s.imports.m {
		s.refreshStats(imp)
		list = append(list, imp)
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].Created.Before(list[j].Created) || list[i].Created.Equal(list[j].Created) && list[i].ID < list[j].ID
	})
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return st.SetMeta(ctx, importsMetaKey, b)
}

// startImports resumes the imports that were running when the server last
// stopped and lets StartImport run new ones until ctx ends (Start and
// Close); the running ones resume at the next start.
func (s *Service) startImports(ctx context.Context) {
	st, err := s.importStore()
	if err != nil {
		return
	}
	li := &s.imports
	li.mu.Lock()
	defer li.mu.Unlock()
	li.ctx = ctx
	if err := s.loadImports(ctx, st); err != nil {
		s.logger.Error("imports: load", "err", err)
		return
	}
	for _, imp := range li.m {
		if imp.Status == importInitializing || imp.Status == importInProgress {
			s.logger.Info("imports: resuming", "import", imp.ID, "source", imp.Source.S3LocationUri)
			s.startRun(st, imp)
		}
	}
}

// importRole checks the form of an IAM role ARN.
func importRole(arn string) bool {
	f := strings.SplitN(arn, ":", 6)
	return len(f) == 6 && f[0] == "arn" && f[1] != "" && f[2] == "iam" && f[3] == "" && cloudtrailarn.IsAccountID(f[4]) && strings.HasPrefix(f[5], "role/") && len(f[5]) > len("role/")
}

// StartImportInput is StartImport's request.
type StartImportInput struct {
	Destinations   []string
	ImportSource   *ImportSource
	StartEventTime *awsapi.Time
	EndEventTime   *awsapi.Time
	ImportId       string
}

// ImportOutput is the response of StartImport, GetImport and StopImport
// (StartImport's has no ImportStatistics).
type ImportOutput struct {
	ImportId         string
	Destinations     []string
	ImportSource     ImportSource
	StartEventTime   *awsapi.Time `json:",omitempty"`
	EndEventTime     *awsapi.Time `json:",omitempty"`
	ImportStatus     string
	CreatedTimestamp awsapi.Time
	UpdatedTimestamp awsapi.Time
	ImportStatistics *ImportStatistics `json:",omitempty"`
}

func (s *Service) importOutput(imp *lakeImport, stats bool) *ImportOutput {
	src := imp.Source
	out := &ImportOutput{
		ImportId: imp.ID, Destinations: []string{imp.Destination}, ImportSource: ImportSource{S3: &src},
		ImportStatus: imp.Status, CreatedTimestamp: awsapi.Time{Time: imp.Created}, UpdatedTimestamp: awsapi.Time{Time: imp.Updated},
	}
	if imp.Start != nil {
		out.StartEventTime = &awsapi.Time{Time: *imp.Start}
	}
	if imp.End != nil {
		out.EndEventTime = &awsapi.Time{Time: *imp.End}
	}
	if stats {
		s.refreshStats(imp)
		st := imp.Stats
		out.ImportStatistics = &st
	}
	return out
}

// StartImport starts an import, or restarts a stopped or failed one named
// by ImportId (its other members are then ignored).
func (s *Service) StartImport(ctx context.Context, in *StartImportInput) (*ImportOutput, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.importStore()
	if err != nil {
		return nil, err
	}
	// A new import is checked before the lock: that looks its bucket up in
	// the object store, which may be slow, and other calls wait on the lock.
	var imp *lakeImport
	if in.ImportId == "" {
		if imp, err = s.newImport(ctx, c, in); err != nil {
			return nil, err
		}
	}
	li := &s.imports
	li.mu.Lock()
	defer li.mu.Unlock()
	if li.ctx == nil || li.ctx.Err() != nil {
		return nil, awsapi.NewError(codeUnsupportedOperation, "Imports are not running on this server (it is starting or stopping); try again.")
	}
	if err := s.loadImports(ctx, st); err != nil {
		return nil, err
	}
	for _, o := range li.m {
		if o.Account == p.AccountID && o.run != nil {
			return nil, awsapi.Errorf(codeOngoingImport, "Import %s is still running; wait for it to finish or stop it before starting another.", o.ID)
		}
	}
	now := s.now().UTC()
	if in.ImportId != "" {
		imp = li.m[in.ImportId]
		if imp == nil || imp.Account != p.AccountID {
			return nil, awsapi.Errorf(codeImportNotFound, "There is no import %s.", awsapi.Clip(in.ImportId, 64))
		}
		if imp.Status != importStopped && imp.Status != importFailed {
			return nil, awsapi.Errorf(codeInvalidParameter, "Import %s is %s; only a STOPPED or FAILED import can be started again.", imp.ID, imp.Status)
		}
		imp.Status, imp.Updated, imp.Failures = importInitializing, now, nil
		if err := s.saveImports(ctx, st); err != nil {
			return nil, err
		}
		s.startRun(st, imp)
		return s.importOutput(imp, false), nil
	}

	imp.Created, imp.Updated = now, now
	li.m[imp.ID] = imp
	if err := s.saveImports(ctx, st); err != nil {
		delete(li.m, imp.ID)
		return nil, err
	}
	s.startRun(st, imp)
	return s.importOutput(imp, false), nil
}

// newImport checks a new import's request.
func (s *Service) newImport(ctx context.Context, c *awsapi.Caller, in *StartImportInput) (*lakeImport, error) {
	p := c.Principal
	if len(in.Destinations) != 1 {
		return nil, awsapi.Errorf(codeInvalidParameter, "Destinations must name exactly one event data store; got %d.", len(in.Destinations))
	}
	dest := in.Destinations[0]
	a, err := cloudtrailarn.Parse(dest, "eventdatastore")
	if err != nil {
		return nil, awsapi.Errorf(codeEventDataStoreARN, "%q is not a valid event data store ARN.", awsapi.Clip(dest, 128))
	}
	eds, err := s.eventDataStore(ctx)
	if err != nil {
		return nil, err
	}
	if a.Account != p.AccountID || !strings.EqualFold(a.ID, eds.ID) {
		return nil, awsapi.NewError(codeEventDataStoreNotFound, "The event data store was not found.")
	}
	if in.ImportSource == nil || in.ImportSource.S3 == nil {
		return nil, awsapi.NewError(codeInvalidParameter, "ImportSource.S3 is required.")
	}
	src := *in.ImportSource.S3
	switch {
	case src.S3LocationUri == "" || src.S3BucketRegion == "" || src.S3BucketAccessRoleArn == "":
		return nil, awsapi.NewError(codeInvalidParameter, "ImportSource.S3 needs S3LocationUri, S3BucketRegion and S3BucketAccessRoleArn.")
	case !importRole(src.S3BucketAccessRoleArn):
		return nil, awsapi.Errorf(codeInvalidParameter, "S3BucketAccessRoleArn %q is not an IAM role ARN.", awsapi.Clip(src.S3BucketAccessRoleArn, 128))
	}
	bucket, _, ok := importer.ParseS3URL(src.S3LocationUri)
	if !ok || objstore.ValidateBucketName(bucket) != nil {
		return nil, awsapi.Errorf(codeInvalidImportSource, "S3LocationUri %q is not s3://bucket/prefix.", awsapi.Clip(src.S3LocationUri, 256))
	}
	if _, err := s.importBucket(ctx, p.AccountID, p.Management, bucket); err != nil {
		return nil, err
	}
	imp := &lakeImport{ID: awsapi.NewUUID(), Account: p.AccountID, Management: p.Management,
		Destination: cloudtrailarn.EventDataStore(a.Region, a.Account, eds.ID), Source: src, Status: importInitializing}
	if in.StartEventTime != nil && !in.StartEventTime.IsZero() {
		t := in.StartEventTime.UTC()
		imp.Start = &t
	}
	if in.EndEventTime != nil && !in.EndEventTime.IsZero() {
		t := in.EndEventTime.UTC()
		imp.End = &t
	}
	if imp.Start != nil && imp.End != nil && !imp.Start.Before(*imp.End) {
		return nil, awsapi.NewError(codeInvalidParameter, "StartEventTime must be before EndEventTime.")
	}
	return imp, nil
}

// importBucket opens the source bucket in the object store; in a store
// that keeps owners, it must be the caller's unless the caller is the
// organisation's management account.
func (s *Service) importBucket(ctx context.Context, account string, management bool, name string) (objstore.Bucket, error) {
	b, err := s.buckets.Bucket(ctx, name)
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return nil, awsapi.Errorf(codeInvalidImportSource, "The bucket %q does not exist in the object store opentrail reads.", name)
	case errors.Is(err, objstore.ErrAccessDenied):
		return nil, awsapi.Errorf(codeInvalidImportSource, "The object store refused access to the bucket %q.", name)
	case err != nil:
		return nil, awsapi.Errorf(codeInvalidImportSource, "The bucket %q could not be reached: %v", name, err)
	}
	if o, ok := s.buckets.(interface {
		Info(context.Context, string) (objstore.BucketInfo, error)
	}); ok && !management {
		info, err := o.Info(ctx, name)
		if err != nil {
			return nil, err
		}
		if info.Owner != "" && info.Owner != account {
			return nil, awsapi.Errorf(codeInvalidImportSource, "The bucket %q belongs to another account.", name)
		}
	}
	return b, nil
}

// startRun runs imp in the background. Call with mu held and li.ctx set.
func (s *Service) startRun(st Meta, imp *lakeImport) {
	li := &s.imports
	ctx, cancel := context.WithCancel(li.ctx)
	run := &importRun{cancel: cancel, done: make(chan struct{}), prefixes: map[string]*prefixCount{}}
	imp.run = run
	imp.Stats = ImportStatistics{}
	li.wg.Add(1)
	go func() {
		defer li.wg.Done()
		defer close(run.done)
		err := s.runImport(ctx, st, imp, run)
		li.mu.Lock()
		defer li.mu.Unlock()
		s.refreshStats(imp)
		imp.run = nil
		now := s.now().UTC()
		switch {
		case err == nil:
			imp.Status = importCompleted
		case run.stopped:
			imp.Status = importStopped
		case li.ctx.Err() != nil || errors.Is(err, context.Canceled):
			// The server is stopping: the import resumes at the next start.
			imp.Status = importInProgress
		default:
			imp.Status = importFailed
			s.addFailure(imp, ImportFailure{Location: imp.Source.S3LocationUri, Status: importFailureFailed,
				ErrorType: importFailureImportError, ErrorMessage: err.Error(), LastUpdatedTime: awsapi.Time{Time: now}})
			s.logger.Error("import failed", "import", imp.ID, "err", err)
		}
		imp.Updated = now
		if err := s.saveImports(context.Background(), st); err != nil {
			s.logger.Error("imports: save", "err", err)
		}
	}()
}

// runImport reads the import's files into the store.
func (s *Service) runImport(ctx context.Context, st Meta, imp *lakeImport, run *importRun) error {
	li := &s.imports
	li.mu.Lock()
	bucket, prefix, _ := importer.ParseS3URL(imp.Source.S3LocationUri)
	account, management := imp.Account, imp.Management
	filter := importer.Filter{}
	if imp.Start != nil {
		filter.Start = *imp.Start
	}
	if imp.End != nil {
		filter.End = *imp.End
	}
	id := imp.ID
	li.mu.Unlock()
	if !management {
		filter.Accounts = []string{account}
	}
	b, err := s.importBucket(ctx, account, management, bucket)
	if err != nil {
		return err
	}
	state, err := importer.OpenState(filepath.Join(s.stateDir, id+".state"), false)
	if err != nil {
		return err
	}
	defer state.Close()
	src := importer.NewBucketSource(b, bucket, prefix)
	dir := func(o importer.Object) string { return path.Dir(o.Key) }
	im := importer.New(importer.Options{
		Source: src,
		Sink:   s.importSink,
		State:  state,
		Filter: filter,
		Report: func(pr importer.Problem) {
			typ := importFailureFileError
			if pr.Where != "" {
				typ = importFailureRecordError
			}
			li.mu.Lock()
			s.addFailure(imp, ImportFailure{Location: pr.Path, Status: importFailureFailed, ErrorType: typ,
				ErrorMessage: strings.TrimSpace(pr.Where + " " + pr.Err.Error()), LastUpdatedTime: awsapi.Time{Time: s.now().UTC()}})
			li.mu.Unlock()
		},
		Listed: func(o importer.Object, done bool) {
			li.mu.Lock()
			pc := run.prefixes[dir(o)]
			if pc == nil {
				pc = &prefixCount{}
				run.prefixes[dir(o)] = pc
			}
			pc.listed++
			if done {
				pc.read++
			}
			li.mu.Unlock()
		},
		Read: func(o importer.Object) {
			li.mu.Lock()
			run.prefixes[dir(o)].read++
			li.mu.Unlock()
		},
	})
	li.mu.Lock()
	run.im = im
	imp.Status = importInProgress
	li.mu.Unlock()
	// Progress is saved now and then, so that GetImport after a crash
	// shows roughly how far the import got.
	li.wg.Add(1)
	go func() {
		defer li.wg.Done()
		t := time.NewTicker(importSaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-run.done:
				return
			case <-t.C:
				li.mu.Lock()
				imp.Updated = s.now().UTC()
				if err := s.saveImports(ctx, st); err != nil && ctx.Err() == nil {
					s.logger.Warn("imports: save progress", "err", err)
				}
				li.mu.Unlock()
			}
		}
	}()
	return im.Run(ctx)
}

// refreshStats copies a running import's counts into its statistics.
// Call with mu held.
func (s *Service) refreshStats(imp *lakeImport) {
	run := imp.run
	if run == nil || run.im == nil {
		return
	}
	snap := run.im.Stats.Snapshot()
	st := &imp.Stats
	st.FilesCompleted = snap.FilesDone + snap.FilesResumed
	st.EventsCompleted = snap.Added + snap.Duplicates
	st.PrefixesFound = int64(len(run.prefixes))
	st.PrefixesCompleted = 0
	for _, pc := range run.prefixes {
		if pc.read == pc.listed && snap.ListingDone {
			st.PrefixesCompleted++
		}
	}
	st.FailedEntries = snap.FilesBad + snap.Rejected
}

// addFailure records a failure, keeping the first maxImportFailures. A
// file with problems is read again when an import resumes; the same
// failure then only has its time updated. Call with mu held.
func (s *Service) addFailure(imp *lakeImport, f ImportFailure) {
	for i := range imp.Failures {
		o := &imp.Failures[i]
		if o.Location == f.Location && o.ErrorType == f.ErrorType && o.ErrorMessage == f.ErrorMessage {
			o.LastUpdatedTime = f.LastUpdatedTime
			return
		}
	}
	if len(imp.Failures) < maxImportFailures {
		imp.Failures = append(imp.Failures, f)
	}
}

// ImportIDInput names an import (GetImport, StopImport).
type ImportIDInput struct {
	ImportId string
}

// lockImport finds the caller's import and returns with mu held.
func (s *Service) lockImport(ctx context.Context, id string) (Meta, *lakeImport, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.importStore()
	if err != nil {
		return nil, nil, err
	}
	if id == "" {
		return nil, nil, awsapi.NewError(codeInvalidParameter, "ImportId is required.")
	}
	s.imports.mu.Lock()
	if err := s.loadImports(ctx, st); err != nil {
		s.imports.mu.Unlock()
		return nil, nil, err
	}
	imp := s.imports.m[id]
	if imp == nil || imp.Account != p.AccountID {
		s.imports.mu.Unlock()
		return nil, nil, awsapi.Errorf(codeImportNotFound, "There is no import %s.", awsapi.Clip(id, 64))
	}
	return st, imp, nil
}

// GetImport describes an import and its progress.
func (s *Service) GetImport(ctx context.Context, in *ImportIDInput) (*ImportOutput, error) {
	_, imp, err := s.lockImport(ctx, in.ImportId)
	if err != nil {
		return nil, err
	}
	defer s.imports.mu.Unlock()
	return s.importOutput(imp, true), nil
}

// StopImport stops a running import; its files read so far stay stored,
// and StartImport with its ImportId continues after them.
func (s *Service) StopImport(ctx context.Context, in *ImportIDInput) (*ImportOutput, error) {
	st, imp, err := s.lockImport(ctx, in.ImportId)
	if err != nil {
		return nil, err
	}
	run := imp.run
	if run == nil {
		defer s.imports.mu.Unlock()
		if imp.Status == importInitializing || imp.Status == importInProgress {
			// Kept as running but not running: the server has not resumed it.
			imp.Status, imp.Updated = importStopped, s.now().UTC()
			if err := s.saveImports(ctx, st); err != nil {
				return nil, err
			}
		}
		return s.importOutput(imp, true), nil
	}
	run.stopped = true
	run.cancel()
	s.imports.mu.Unlock()
	<-run.done
	s.imports.mu.Lock()
	defer s.imports.mu.Unlock()
	return s.importOutput(imp, true), nil
}

// ListImportsInput is ListImports' request.
type ListImportsInput struct {
	MaxResults   *int
	Destination  string
	ImportStatus string
	NextToken    string
}

// ImportsListItem is one entry of ListImports.
type ImportsListItem struct {
	ImportId         string
	ImportStatus     string
	Destinations     []string
	CreatedTimestamp awsapi.Time
	UpdatedTimestamp awsapi.Time
}

// ListImportsOutput is ListImports' response.
type ListImportsOutput struct {
	Imports   []ImportsListItem
	NextToken string `json:",omitempty"`
}

// ListImports lists the caller's imports, newest first.
func (s *Service) ListImports(ctx context.Context, in *ListImportsInput) (*ListImportsOutput, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.importStore()
	if err != nil {
		return nil, err
	}
	max, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	switch in.ImportStatus {
	case "", importInitializing, importInProgress, importFailed, importStopped, importCompleted:
	default:
		return nil, awsapi.Errorf(codeInvalidParameter, "ImportStatus %q is not valid.", awsapi.Clip(in.ImportStatus, 64))
	}
	wantID := ""
	if in.Destination != "" {
		a, err := cloudtrailarn.Parse(in.Destination, "eventdatastore")
		if err != nil {
			return nil, awsapi.Errorf(codeEventDataStoreARN, "%q is not a valid event data store ARN.", awsapi.Clip(in.Destination, 128))
		}
		wantID = a.ID
	}
	s.imports.mu.Lock()
	if err := s.loadImports(ctx, st); err != nil {
		s.imports.mu.Unlock()
		return nil, err
	}
	var items []ImportsListItem
	for _, imp := range s.imports.m {
		if imp.Account != p.AccountID || in.ImportStatus != "" && imp.Status != in.ImportStatus ||
			wantID != "" && !strings.HasSuffix(imp.Destination, "/"+wantID) {
			continue
		}
		items = append(items, ImportsListItem{ImportId: imp.ID, ImportStatus: imp.Status, Destinations: []string{imp.Destination},
			CreatedTimestamp: awsapi.Time{Time: imp.Created}, UpdatedTimestamp: awsapi.Time{Time: imp.Updated}})
	}
	s.imports.mu.Unlock()
	sort.Slice(items, func(i, j int) bool {
		if !items[i].CreatedTimestamp.Equal(items[j].CreatedTimestamp.Time) {
			return items[i].CreatedTimestamp.After(items[j].CreatedTimestamp.Time)
		}
		return items[i].ImportId < items[j].ImportId
	})
	hash := pagetoken.NewHasher().Str(p.AccountID).Str(in.Destination).Str(in.ImportStatus).Sum()
	start, err := s.pageStart(pagetoken.KindListImports, hash, in.NextToken, len(items), func(i int) string { return items[i].ImportId })
	if err != nil {
		return nil, err
	}
	end := min(start+max, len(items))
	out := &ListImportsOutput{Imports: append([]ImportsListItem{}, items[start:end]...)}
	if end < len(items) {
		out.NextToken = s.tokens.Issue(pagetoken.KindListImports, hash, []byte(items[end-1].ImportId))
	}
	return out, nil
}

// ListImportFailuresInput is ListImportFailures' request.
type ListImportFailuresInput struct {
	ImportId   string
	MaxResults *int
	NextToken  string
}

// ListImportFailuresOutput is ListImportFailures' response.
type ListImportFailuresOutput struct {
	Failures  []ImportFailure
	NextToken string `json:",omitempty"`
}

// ListImportFailures lists the bad files and records an import skipped,
// and why it failed if it did, oldest first (at most 1,000 are kept).
func (s *Service) ListImportFailures(ctx context.Context, in *ListImportFailuresInput) (*ListImportFailuresOutput, error) {
	max, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	_, imp, err := s.lockImport(ctx, in.ImportId)
	if err != nil {
		return nil, err
	}
	fs := append([]ImportFailure{}, imp.Failures...)
	s.imports.mu.Unlock()
	hash := pagetoken.NewHasher().Str(imp.ID).Sum()
	start, err := s.pageStart(pagetoken.KindListImportFailure, hash, in.NextToken, len(fs), nil)
	if err != nil {
		return nil, err
	}
	end := min(start+max, len(fs))
	out := &ListImportFailuresOutput{Failures: fs[start:end]}
	if end < len(fs) {
		out.NextToken = s.tokens.Issue(pagetoken.KindListImportFailure, hash, []byte(fmt.Sprint(end)))
	}
	return out, nil
}

// pageSize checks MaxResults (1–1000, default 1000).
func pageSize(n *int) (int, error) {
	if n == nil {
		return 1000, nil
	}
	if *n < 1 || *n > 1000 {
		return 0, awsapi.Errorf(codeInvalidMaxResults, "MaxResults must be between 1 and 1000; got %d.", *n)
	}
	return *n, nil
}

// pageStart opens a NextToken: with key, the token holds the last
// returned item's key and the page starts after it; without, it holds the
// next index.
func (s *Service) pageStart(kind byte, hash [pagetoken.HashLen]byte, token string, n int, key func(int) string) (int, error) {
	if token == "" {
		return 0, nil
	}
	b, err := s.tokens.Open(kind, hash, token)
	if err != nil {
		return 0, err
	}
	if key == nil {
		var i int
		if _, err := fmt.Sscan(string(b), &i); err != nil || i < 0 {
			return 0, awsapi.NewError(codeInvalidNextToken, "The NextToken is not valid.")
		}
		return min(i, n), nil
	}
	for i := range n {
		if key(i) == string(b) {
			return i + 1, nil
		}
	}
	return n, nil
}
