package cloudtrail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Trail error codes.
const (
	codeTrailNotFound          = "TrailNotFoundException"
	codeInvalidTrailName       = "InvalidTrailNameException"
	codeTrailAlreadyExists     = "TrailAlreadyExistsException"
	codeMaxTrails              = "MaximumNumberOfTrailsExceededException"
	codeTrailARNInvalid        = "CloudTrailARNInvalidException"
	codeInvalidHomeRegion      = "InvalidHomeRegionException"
	codeInvalidS3BucketName    = "InvalidS3BucketNameException"
	codeS3BucketMissing        = "S3BucketDoesNotExistException"
	codeInsufficientS3Policy   = "InsufficientS3BucketPolicyException"
	codeInvalidS3Prefix        = "InvalidS3PrefixException"
	codeInvalidEventSelectors  = "InvalidEventSelectorsException"
	codeInvalidInsights        = "InvalidInsightSelectorsException"
	codeInsightNotEnabled      = "InsightNotEnabledException"
	codeNotOrgManagement       = "NotOrganizationMasterAccountException"
	codeResourceNotFound       = "ResourceNotFoundException"
	codeResourceTypeNotSupport = "ResourceTypeNotSupportedException"
	codeInvalidToken           = "InvalidTokenException"
)

// Trail limits.
const (
	maxTrailsPerRegion  = 5
	maxS3PrefixLen      = 200
	maxTagsPerCall      = 200
	maxListTagsIDs      = 20
	listTrailsPageSize  = 50
	legacyTimeLayout    = "2006-01-02T15:04:05Z"
	readWriteAll        = "All"
	insightCallRate     = "ApiCallRateInsight"
	insightErrorRate    = "ApiErrorRateInsight"
	defaultPartition    = "aws"
	snsARNPrefixPattern = "arn:aws:sns:%s:%s:%s"
)

// trailDoc is the settings document stored in store.Trail.Doc: the
// delivery settings at its top level, then what only the control plane
// reads.
type trailDoc struct {
	trail.Settings
	SnsTopicName              string            `json:",omitempty"`
	CloudWatchLogsLogGroupArn string            `json:",omitempty"`
	CloudWatchLogsRoleArn     string            `json:",omitempty"`
	InsightSelectors          []InsightSelector `json:",omitempty"`
	Tags                      []ChannelTag      `json:",omitempty"`
}

// trailRec is a stored trail with its settings decoded.
type trailRec struct {
	row store.Trail
	doc trailDoc
}

// CreateTrailInput is the CreateTrail request; UpdateTrail takes the same
// members except TagsList.
type CreateTrailInput struct {
	Name                       *string `json:",omitempty"`
	S3BucketName               *string `json:",omitempty"`
	S3KeyPrefix                *string `json:",omitempty"`
	SnsTopicName               *string `json:",omitempty"`
	IncludeGlobalServiceEvents *bool   `json:",omitempty"`
	IsMultiRegionTrail         *bool   `json:",omitempty"`
	EnableLogFileValidation    *bool   `json:",omitempty"`
	CloudWatchLogsLogGroupArn  *string `json:",omitempty"`
	CloudWatchLogsRoleArn      *string `json:",omitempty"`
	KmsKeyID                   *string `json:"KmsKeyId,omitempty"`
	IsOrganizationTrail        *bool   `json:",omitempty"`
	TagsList                   []Tag   `json:",omitempty"`
}

// UpdateTrailInput is the UpdateTrail request.
type UpdateTrailInput struct {
	Name                       *string `json:",omitempty"`
	S3BucketName               *string `json:",omitempty"`
	S3KeyPrefix                *string `json:",omitempty"`
	SnsTopicName               *string `json:",omitempty"`
	IncludeGlobalServiceEvents *bool   `json:",omitempty"`
	IsMultiRegionTrail         *bool   `json:",omitempty"`
	EnableLogFileValidation    *bool   `json:",omitempty"`
	CloudWatchLogsLogGroupArn  *string `json:",omitempty"`
	CloudWatchLogsRoleArn      *string `json:",omitempty"`
	KmsKeyID                   *string `json:"KmsKeyId,omitempty"`
	IsOrganizationTrail        *bool   `json:",omitempty"`
}

// TrailOutput is the CreateTrail and UpdateTrail response.
type TrailOutput struct {
	Name                       string
	S3BucketName               string
	S3KeyPrefix                string `json:",omitempty"`
	SnsTopicName               string `json:",omitempty"`
	SnsTopicARN                string `json:",omitempty"`
	IncludeGlobalServiceEvents bool
	IsMultiRegionTrail         bool
	TrailARN                   string
	LogFileValidationEnabled   bool
	CloudWatchLogsLogGroupArn  string `json:",omitempty"`
	CloudWatchLogsRoleArn      string `json:",omitempty"`
	KmsKeyID                   string `json:"KmsKeyId,omitempty"`
	IsOrganizationTrail        bool
}

// GetTrailOutput is the GetTrail response.
type GetTrailOutput struct {
	Trail TrailInfo
}

// DescribeTrailsOutput is the DescribeTrails response.
type DescribeTrailsOutput struct {
	TrailList []TrailInfo `json:"trailList"`
}

// EmptyOutput is the empty response of DeleteTrail, StartLogging,
// StopLogging, AddTags and RemoveTags.
type EmptyOutput struct{}

// PutEventSelectorsInput is the PutEventSelectors request.
type PutEventSelectorsInput struct {
	TrailName              *string                       `json:",omitempty"`
	EventSelectors         []trail.EventSelector         `json:",omitempty"`
	AdvancedEventSelectors []trail.AdvancedEventSelector `json:",omitempty"`
}

// PutInsightSelectorsInput is the PutInsightSelectors request.
type PutInsightSelectorsInput struct {
	TrailName        *string           `json:",omitempty"`
	InsightSelectors []InsightSelector `json:",omitempty"`
}

// TagsInput is the AddTags and RemoveTags request.
type TagsInput struct {
	ResourceID *string `json:"ResourceId,omitempty"`
	TagsList   []Tag   `json:",omitempty"`
}

func trailNotFound(ref, account string) error {
	return awsapi.Errorf(codeTrailNotFound, "Unknown trail: %s for the user: %s", ref, account)
}

func (t *trailRec) info() TrailInfo {
	d := &t.doc
	return TrailInfo{
		Name:                       t.row.Name,
		S3BucketName:               d.S3BucketName,
		S3KeyPrefix:                d.S3KeyPrefix,
		SnsTopicName:               d.SnsTopicName,
		SnsTopicARN:                snsTopicARN(t.row, d.SnsTopicName),
		IncludeGlobalServiceEvents: d.IncludeGlobalServiceEvents,
		IsMultiRegionTrail:         d.IsMultiRegionTrail,
		HomeRegion:                 t.row.HomeRegion,
		TrailARN:                   t.row.ARN,
		LogFileValidationEnabled:   d.LogFileValidationEnabled,
		CloudWatchLogsLogGroupArn:  d.CloudWatchLogsLogGroupArn,
		CloudWatchLogsRoleArn:      d.CloudWatchLogsRoleArn,
		KmsKeyID:                   d.KmsKeyID,
		HasCustomEventSelectors:    len(d.EventSelectors) > 0 || len(d.AdvancedEventSelectors) > 0,
		HasInsightSelectors:        len(d.InsightSelectors) > 0,
		IsOrganizationTrail:        d.IsOrganizationTrail,
	}
}

func (t *trailRec) output() *TrailOutput {
	i := t.info()
	return &TrailOutput{
		Name: i.Name, S3BucketName: i.S3BucketName, S3KeyPrefix: i.S3KeyPrefix,
		SnsTopicName: i.SnsTopicName, SnsTopicARN: i.SnsTopicARN,
		IncludeGlobalServiceEvents: i.IncludeGlobalServiceEvents, IsMultiRegionTrail: i.IsMultiRegionTrail,
		TrailARN: i.TrailARN, LogFileValidationEnabled: i.LogFileValidationEnabled,
		CloudWatchLogsLogGroupArn: i.CloudWatchLogsLogGroupArn, CloudWatchLogsRoleArn: i.CloudWatchLogsRoleArn,
		KmsKeyID: i.KmsKeyID, IsOrganizationTrail: i.IsOrganizationTrail,
	}
}

func snsTopicARN(row store.Trail, topic string) string {
	switch {
	case topic == "":
		return ""
	case strings.HasPrefix(topic, "arn:"):
		return topic
	}
	return fmt.Sprintf(snsARNPrefixPattern, row.HomeRegion, row.Account, topic)
}

const codeInsufficientSnsPolicy = "InsufficientSnsTopicPolicyException"

// checkTopic checks that a trail's SnsTopicName (a name or an ARN) names
// a topic of the trail's account, as CloudTrail does before it accepts
// the setting.
func (s *Service) checkTopic(ctx context.Context, row store.Trail, topic string) error {
	if topic == "" || s.topics == nil {
		return nil
	}
	ok, err := s.topics.TopicExists(ctx, row.Account, snsTopicARN(row, topic))
	if err != nil {
		return fmt.Errorf("check SNS topic: %w", err)
	}
	if !ok {
		return awsapi.NewError(codeInsufficientSnsPolicy, "SNS Topic does not exist or the topic policy is incorrect!")
	}
	return nil
}

func decodeTrail(row store.Trail) (*trailRec, error) {
	t := &trailRec{row: row}
	if err := json.Unmarshal(row.Doc, &t.doc); err != nil {
		return nil, fmt.Errorf("decode trail %s: %w", row.ARN, err)
	}
	return t, nil
}

// visibleIn reports whether the trail appears in region: its home region,
// or every region for a multi-region trail.
func (t *trailRec) visibleIn(region string) bool {
	return t.row.HomeRegion == region || t.doc.IsMultiRegionTrail
}

// accountTrails loads every trail of the account.
func (s *Service) accountTrails(ctx context.Context, account string) ([]*trailRec, error) {
	rows, err := s.store.ListTrails(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("list trails: %w", err)
	}
	out := make([]*trailRec, 0, len(rows))
	for _, r := range rows {
		t, err := decodeTrail(r)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].row.ARN < out[j].row.ARN })
	return out, nil
}

// checkRef validates a trail name or ARN as a request member, with the
// error AWS gives for each malformation.
func checkRef(ref string) (trail.ARN, bool, error) {
	if trail.IsARN(ref) {
		a, err := trail.ParseARN(ref)
		if err != nil {
			var ne *trail.NameError
			if errors.As(err, &ne) {
				return trail.ARN{}, true, awsapi.NewError(codeInvalidTrailName, ne.Error())
			}
			return trail.ARN{}, true, awsapi.NewError(codeTrailARNInvalid, err.Error())
		}
		return a, true, nil
	}
	if err := trail.ValidateName(ref); err != nil {
		return trail.ARN{}, false, awsapi.NewError(codeInvalidTrailName, err.Error())
	}
	return trail.ARN{}, false, nil
}

// findTrail resolves a name or ARN among the caller's trails. A bare name
// finds the trail of that name visible in the caller's region; an ARN
// finds that trail of the caller's account, in any region. It returns nil
// without error when there is no such trail.
func (s *Service) findTrail(ctx context.Context, c *awsapi.Caller, p *auth.Principal, ref string) (*trailRec, error) {
	a, isARN, err := checkRef(ref)
	if err != nil {
		return nil, err
	}
	if isARN && a.Account != p.AccountID {
		return nil, nil
	}
	all, err := s.accountTrails(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if isARN && t.row.ARN == a.String() || !isARN && t.row.Name == ref && t.visibleIn(c.Region) {
			return t, nil
		}
	}
	return nil, nil
}

// ownTrail resolves a required trail member; mutating calls must come
// from the trail's home region.
func (s *Service) ownTrail(ctx context.Context, member string, ref *string, mutate bool) (*trailRec, error) {
	return s.ownTrailNamed(ctx, member, ref, mutate, false)
}

// ownTrailNamed is ownTrail; with byARN, an unknown bare name is reported
// as the ARN it would have in the caller's region, as GetTrailStatus does
// ("Unknown trail: arn:aws:cloudtrail:us-east-1:123456789012:trail/x for
// the user: 123456789012").
func (s *Service) ownTrailNamed(ctx context.Context, member string, ref *string, mutate, byARN bool) (*trailRec, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if ref == nil || *ref == "" {
		return nil, awsapi.Errorf(codeInvalidParameter, "%s is required.", member)
	}
	t, err := s.findTrail(ctx, c, p, *ref)
	if err != nil {
		return nil, err
	}
	if t == nil {
		name := *ref
		if byARN && !trail.IsARN(name) {
			name = trail.ARN{Partition: defaultPartition, Region: c.Region, Account: p.AccountID, Name: name}.String()
		}
		return nil, trailNotFound(name, p.AccountID)
	}
	if mutate && t.row.HomeRegion != c.Region {
		return nil, awsapi.Errorf(codeInvalidHomeRegion,
			"This operation must be called from the trail's home region %s; the request was made in %s.", t.row.HomeRegion, c.Region)
	}
	return t, nil
}

// saveTrail stores t's settings document.
func (s *Service) saveTrail(ctx context.Context, t *trailRec) error {
	doc, err := json.Marshal(&t.doc)
	if err != nil {
		return fmt.Errorf("encode trail %s: %w", t.row.ARN, err)
	}
	t.row.Doc, t.row.Updated = doc, s.now().UTC()
	if err := s.store.UpdateTrail(ctx, t.row); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return trailNotFound(t.row.Name, t.row.Account)
		}
		return fmt.Errorf("update trail: %w", err)
	}
	if s.delivery != nil {
		s.delivery.Wake()
	}
	return nil
}

// validBucketName applies S3's bucket naming rules: 3–63 lowercase
// letters, digits, '.' and '-', starting and ending with a letter or digit.
func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '-' || i == 0 || i == len(b)-1) {
			return false
		}
	}
	return true
}

// applySettings checks the members CreateTrail and UpdateTrail share and
// applies those present to d.
func applySettings(p *auth.Principal, d *trailDoc, in *UpdateTrailInput) error {
	if in.S3BucketName != nil {
		if !validBucketName(*in.S3BucketName) {
			return awsapi.Errorf(codeInvalidS3BucketName, "Bucket name is not valid: %s", awsapi.Clip(*in.S3BucketName, 128))
		}
		d.S3BucketName = *in.S3BucketName
	}
	if in.S3KeyPrefix != nil {
		if len(*in.S3KeyPrefix) > maxS3PrefixLen {
			return awsapi.Errorf(codeInvalidS3Prefix,
				"S3KeyPrefix is %d characters long; the maximum is %d.", len(*in.S3KeyPrefix), maxS3PrefixLen)
		}
		d.S3KeyPrefix = *in.S3KeyPrefix
	}
	if in.SnsTopicName != nil {
		d.SnsTopicName = *in.SnsTopicName
	}
	if in.IncludeGlobalServiceEvents != nil {
		d.IncludeGlobalServiceEvents = *in.IncludeGlobalServiceEvents
	}
	if in.IsMultiRegionTrail != nil {
		d.IsMultiRegionTrail = *in.IsMultiRegionTrail
	}
	if in.EnableLogFileValidation != nil {
		d.LogFileValidationEnabled = *in.EnableLogFileValidation
	}
	if in.CloudWatchLogsLogGroupArn != nil {
		d.CloudWatchLogsLogGroupArn = *in.CloudWatchLogsLogGroupArn
	}
	if in.CloudWatchLogsRoleArn != nil {
		d.CloudWatchLogsRoleArn = *in.CloudWatchLogsRoleArn
	}
	if in.KmsKeyID != nil {
		d.KmsKeyID = *in.KmsKeyID
	}
	if in.IsOrganizationTrail != nil {
		if *in.IsOrganizationTrail && !p.Management {
			return awsapi.NewError(codeNotOrgManagement,
				"The request was made from an account that is not the management account of the organization; only the management account can create or update an organization trail.")
		}
		d.IsOrganizationTrail = *in.IsOrganizationTrail
	}
	if d.IsMultiRegionTrail && !d.IncludeGlobalServiceEvents {
		return awsapi.NewError(codeInvalidParameterCombination,
			"Multi-Region trail must include global service events.")
	}
	return nil
}

const codeInvalidParameterCombination = "InvalidParameterCombinationException"

// CreateTrail creates a trail in the caller's account and region. The
// trail does not log until StartLogging. Its bucket must exist
// (S3BucketDoesNotExistException).
func (s *Service) CreateTrail(ctx context.Context, in *CreateTrailInput) (*TrailOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if in.Name == nil || *in.Name == "" {
		return nil, awsapi.NewError(codeInvalidParameter, "Name is required.")
	}
	name := *in.Name
	if err := trail.ValidateName(name); err != nil {
		return nil, awsapi.NewError(codeInvalidTrailName, err.Error())
	}
	if in.S3BucketName == nil || *in.S3BucketName == "" {
		return nil, awsapi.NewError(codeInvalidParameter, "S3BucketName is required.")
	}
	if len(in.TagsList) > maxTagsPerCall {
		return nil, awsapi.Errorf(codeTagsLimitExceeded, "A request can carry at most %d tags; got %d.", maxTagsPerCall, len(in.TagsList))
	}
	tags, err := validateTags(in.TagsList)
	if err != nil {
		return nil, err
	}
	d := trailDoc{Settings: trail.Settings{IncludeGlobalServiceEvents: true}}
	if err := applySettings(p, &d, &UpdateTrailInput{
		S3BucketName: in.S3BucketName, S3KeyPrefix: in.S3KeyPrefix, SnsTopicName: in.SnsTopicName,
		IncludeGlobalServiceEvents: in.IncludeGlobalServiceEvents, IsMultiRegionTrail: in.IsMultiRegionTrail,
		EnableLogFileValidation: in.EnableLogFileValidation, CloudWatchLogsLogGroupArn: in.CloudWatchLogsLogGroupArn,
		CloudWatchLogsRoleArn: in.CloudWatchLogsRoleArn, KmsKeyID: in.KmsKeyID, IsOrganizationTrail: in.IsOrganizationTrail,
	}); err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		d.Tags = tags
	}
	all, err := s.accountTrails(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	inRegion := 0
	for _, t := range all {
		if t.row.Name == name && (t.row.HomeRegion == c.Region || t.doc.IsMultiRegionTrail || d.IsMultiRegionTrail) {
			return nil, trailExists(name, p.AccountID)
		}
		if t.visibleIn(c.Region) {
			inRegion++
		}
	}
	if inRegion >= maxTrailsPerRegion {
		return nil, awsapi.Errorf(codeMaxTrails,
			"User: %s already has %d trails in %s.", p.AccountID, maxTrailsPerRegion, c.Region)
	}
	row := store.Trail{
		ARN:  trail.ARN{Partition: defaultPartition, Region: c.Region, Account: p.AccountID, Name: name}.String(),
		Name: name, Account: p.AccountID, HomeRegion: c.Region,
	}
	if err := s.checkBucket(ctx, s.deliveryTarget(row, &d)); err != nil {
		return nil, err
	}
	if err := s.checkLogGroup(ctx, p.AccountID, c.Region, &d); err != nil {
		return nil, err
	}
	if err := s.checkTopic(ctx, row, d.SnsTopicName); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	doc, err := json.Marshal(&d)
	if err != nil {
		return nil, fmt.Errorf("encode trail: %w", err)
	}
	row.Doc, row.Created, row.Updated = doc, now, now
	if err := s.store.CreateTrail(ctx, row); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, trailExists(name, p.AccountID)
		}
		return nil, fmt.Errorf("create trail: %w", err)
	}
	if s.delivery != nil {
		s.delivery.Wake()
	}
	t := &trailRec{row: row, doc: d}
	return t.output(), nil
}

func trailExists(name, account string) error {
	return awsapi.Errorf(codeTrailAlreadyExists, "Trail %s already exists for customer: %s", name, account)
}

// UpdateTrail changes the settings of one of the caller's trails; members
// left out keep their values.
func (s *Service) UpdateTrail(ctx context.Context, in *UpdateTrailInput) (*TrailOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.ownTrail(ctx, "Name", in.Name, true)
	if err != nil {
		return nil, err
	}
	_, p, _ := awsapi.Authenticated(ctx)
	if in.S3BucketName != nil && *in.S3BucketName == "" {
		return nil, awsapi.NewError(codeInvalidS3BucketName, "Bucket name is not valid: ")
	}
	if err := applySettings(p, &t.doc, in); err != nil {
		return nil, err
	}
	// A new bucket, prefix or organisation setting moves where the trail
	// writes: check it may write there.
	if in.S3BucketName != nil || in.S3KeyPrefix != nil || in.IsOrganizationTrail != nil {
		if err := s.checkBucket(ctx, s.deliveryTarget(t.row, &t.doc)); err != nil {
			return nil, err
		}
	}
	if in.CloudWatchLogsLogGroupArn != nil || in.CloudWatchLogsRoleArn != nil {
		if err := s.checkLogGroup(ctx, p.AccountID, t.row.HomeRegion, &t.doc); err != nil {
			return nil, err
		}
	}
	if in.SnsTopicName != nil {
		if err := s.checkTopic(ctx, t.row, t.doc.SnsTopicName); err != nil {
			return nil, err
		}
	}
	if in.IsMultiRegionTrail != nil && *in.IsMultiRegionTrail {
		// A trail becoming multi-region must not clash with a trail of
		// the same name in another region.
		all, err := s.accountTrails(ctx, p.AccountID)
		if err != nil {
			return nil, err
		}
		for _, o := range all {
			if o.row.Name == t.row.Name && o.row.ARN != t.row.ARN {
				return nil, trailExists(t.row.Name, p.AccountID)
			}
		}
	}
	if err := s.saveTrail(ctx, t); err != nil {
		return nil, err
	}
	return t.output(), nil
}

// DeleteTrail deletes one of the caller's trails.
func (s *Service) DeleteTrail(ctx context.Context, in *TrailNameInput) (*EmptyOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.ownTrail(ctx, "Name", in.Name, true)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteTrail(ctx, t.row.ARN); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, trailNotFound(*in.Name, t.row.Account)
		}
		return nil, fmt.Errorf("delete trail: %w", err)
	}
	if s.delivery != nil {
		if err := s.delivery.Forget(ctx, t.row.ARN); err != nil {
			s.logger.Warn("delete trail: drop delivery state", "trail", t.row.ARN, "err", err)
		}
	}
	return &EmptyOutput{}, nil
}

// bucketPolicies is what a bucket registry that keeps owners and
// policies (the built-in store, objstore.FSBuckets) offers the delivery
// check. Other registries (an S3-compatible service) decide access
// themselves, with opentrail's own credentials.
type bucketPolicies interface {
	Info(ctx context.Context, name string) (objstore.BucketInfo, error)
	Policy(ctx context.Context, name string) ([]byte, error)
}

// deliveryTarget is where trail t of the caller's account would write.
func (s *Service) deliveryTarget(row store.Trail, d *trailDoc) trail.DeliveryTarget {
	tg := trail.DeliveryTarget{
		Bucket: d.S3BucketName, Prefix: d.S3KeyPrefix, Account: row.Account,
		TrailARN: row.ARN, Region: row.HomeRegion,
	}
	// Delivery puts an organisation trail's files under the
	// organisation's folder (layout.Log.OrgID).
	if d.IsOrganizationTrail && s.org != nil {
		tg.OrgID = s.org.ID
	}
	return tg
}

// checkBucket checks, as CloudTrail does, that the trail's bucket exists
// (S3BucketDoesNotExistException) and that the trail may write there
// (InsufficientS3BucketPolicyException): in the built-in store, the
// bucket belongs to the trail's account or its policy lets
// cloudtrail.amazonaws.com put objects under the trail's
// [prefix/]AWSLogs/<account or org id>/.
func (s *Service) checkBucket(ctx context.Context, tg trail.DeliveryTarget) error {
	if s.buckets == nil {
		return nil
	}
	name := tg.Bucket
	insufficient := awsapi.Errorf(codeInsufficientS3Policy, "Incorrect S3 bucket policy is detected for bucket: %s", name)
	_, err := s.buckets.Bucket(ctx, name)
	switch {
	case err == nil:
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return awsapi.Errorf(codeS3BucketMissing, "S3 bucket %s does not exist!", name)
	case errors.Is(err, objstore.ErrAccessDenied):
		return insufficient
	default:
		return fmt.Errorf("check bucket %s: %w", name, err)
	}
	bp, ok := s.buckets.(bucketPolicies)
	if !ok {
		return nil
	}
	info, err := bp.Info(ctx, name)
	if err != nil {
		if errors.Is(err, objstore.ErrNoSuchBucket) {
			return awsapi.Errorf(codeS3BucketMissing, "S3 bucket %s does not exist!", name)
		}
		return fmt.Errorf("check bucket %s: %w", name, err)
	}
	if info.Owner == tg.Account {
		return nil
	}
	policy, err := bp.Policy(ctx, name)
	switch {
	case errors.Is(err, objstore.ErrNoSuchPolicy):
		return insufficient
	case err != nil:
		return fmt.Errorf("check policy of bucket %s: %w", name, err)
	}
	allowed, err := trail.PolicyAllowsDelivery(policy, tg)
	if err != nil || !allowed {
		return insufficient
	}
	return nil
}

// GetTrail describes one trail.
func (s *Service) GetTrail(ctx context.Context, in *TrailNameInput) (*GetTrailOutput, error) {
	t, err := s.ownTrail(ctx, "Name", in.Name, false)
	if err != nil {
		return nil, err
	}
	return &GetTrailOutput{Trail: t.info()}, nil
}

// DescribeTrails describes the named trails, or every trail visible in the
// caller's region (with multi-region trails of other home regions unless
// includeShadowTrails is false). Unknown names are left out.
func (s *Service) DescribeTrails(ctx context.Context, in *DescribeTrailsInput) (*DescribeTrailsOutput, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	shadows := in.IncludeShadowTrails == nil || *in.IncludeShadowTrails
	out := &DescribeTrailsOutput{TrailList: []TrailInfo{}}
	keep := func(t *trailRec) bool { return t.row.HomeRegion == c.Region || shadows && t.doc.IsMultiRegionTrail }
	if len(in.TrailNameList) == 0 {
		all, err := s.accountTrails(ctx, p.AccountID)
		if err != nil {
			return nil, err
		}
		for _, t := range all {
			if keep(t) {
				out.TrailList = append(out.TrailList, t.info())
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	for _, ref := range in.TrailNameList {
		t, err := s.findTrail(ctx, c, p, ref)
		if err != nil {
			return nil, err
		}
		if t == nil || seen[t.row.ARN] || !trail.IsARN(ref) && !keep(t) {
			continue
		}
		seen[t.row.ARN] = true
		out.TrailList = append(out.TrailList, t.info())
	}
	return out, nil
}

// ListTrails lists the caller's trails in every region, ordered by ARN.
func (s *Service) ListTrails(ctx context.Context, in *ListTrailsInput) (*ListTrailsOutput, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	qh := pagetoken.NewHasher().Str(p.AccountID).Sum()
	after := ""
	if in.NextToken != nil {
		b, err := s.tokens.Open(pagetoken.KindTrails, qh, *in.NextToken)
		if err != nil {
			return nil, err
		}
		after = string(b)
	}
	all, err := s.accountTrails(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	out := &ListTrailsOutput{Trails: []TrailSummary{}}
	for _, t := range all {
		if t.row.ARN <= after {
			continue
		}
		if len(out.Trails) == listTrailsPageSize {
			out.NextToken = s.tokens.Issue(pagetoken.KindTrails, qh, []byte(out.Trails[listTrailsPageSize-1].TrailARN))
			break
		}
		out.Trails = append(out.Trails, TrailSummary{TrailARN: t.row.ARN, Name: t.row.Name, HomeRegion: t.row.HomeRegion})
	}
	return out, nil
}

// StartLogging makes a trail log.
func (s *Service) StartLogging(ctx context.Context, in *TrailNameInput) (*EmptyOutput, error) {
	return s.setLogging(ctx, in, true)
}

// StopLogging makes a trail stop logging.
func (s *Service) StopLogging(ctx context.Context, in *TrailNameInput) (*EmptyOutput, error) {
	return s.setLogging(ctx, in, false)
}

func (s *Service) setLogging(ctx context.Context, in *TrailNameInput, on bool) (*EmptyOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.ownTrail(ctx, "Name", in.Name, true)
	if err != nil {
		return nil, err
	}
	if t.doc.IsLogging != on {
		now := s.now().UTC()
		t.doc.IsLogging = on
		if on {
			t.doc.StartLoggingTime = &now
			t.doc.StopLoggingRequestID = ""
		} else {
			t.doc.StopLoggingTime = &now
			// The call's own record is still delivered (trail.Settings.Selects).
			if c := awsapi.CallerFrom(ctx); c != nil {
				t.doc.StopLoggingRequestID = c.RequestID
			}
		}
		if err := s.saveTrail(ctx, t); err != nil {
			return nil, err
		}
	}
	return &EmptyOutput{}, nil
}

// GetTrailStatus reports whether a trail logs and when logging last
// started and stopped.
func (s *Service) GetTrailStatus(ctx context.Context, in *TrailNameInput) (*GetTrailStatusOutput, error) {
	t, err := s.ownTrailNamed(ctx, "Name", in.Name, false, true)
	if err != nil {
		return nil, err
	}
	out := &GetTrailStatusOutput{IsLogging: t.doc.IsLogging}
	if st := t.doc.StartLoggingTime; st != nil {
		out.StartLoggingTime = &awsapi.Time{Time: *st}
		out.TimeLoggingStarted = st.UTC().Format(legacyTimeLayout)
	}
	if st := t.doc.StopLoggingTime; st != nil {
		out.StopLoggingTime = &awsapi.Time{Time: *st}
		out.TimeLoggingStopped = st.UTC().Format(legacyTimeLayout)
	}
	if s.delivery != nil {
		ds, err := s.delivery.Status(ctx, t.row.ARN)
		if err != nil {
			return nil, fmt.Errorf("delivery status: %w", err)
		}
		out.LatestDeliveryError = ds.LatestError
		if !ds.LatestDelivery.IsZero() {
			out.LatestDeliveryTime = &awsapi.Time{Time: ds.LatestDelivery}
			// AWS fills the legacy member with the time of the latest
			// successful attempt.
			out.LatestDeliveryAttemptSucceeded = ds.LatestDelivery.UTC().Format(legacyTimeLayout)
		}
		if !ds.LatestAttempt.IsZero() {
			out.LatestDeliveryAttemptTime = ds.LatestAttempt.UTC().Format(legacyTimeLayout)
		}
		if !ds.DeliveredThrough.IsZero() {
			out.DeliveredThroughTime = &awsapi.Time{Time: ds.DeliveredThrough}
		}
		if !ds.LatestDigestDelivery.IsZero() {
			out.LatestDigestDeliveryTime = &awsapi.Time{Time: ds.LatestDigestDelivery}
		}
		out.LatestDigestDeliveryError = ds.LatestDigestError
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
