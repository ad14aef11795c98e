package logs

import (
	"context"

	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/pagetoken"
)

// CreateLogGroupInput is CreateLogGroup's request.
type CreateLogGroupInput struct {
	LogGroupName  string            `json:"logGroupName"`
	KmsKeyID      *string           `json:"kmsKeyId,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	LogGroupClass *string           `json:"logGroupClass,omitempty"`
}

// Empty is the answer of operations that return nothing.
type Empty struct{}

// CreateLogGroup creates a log group.
func (s *Service) CreateLogGroup(ctx context.Context, in *CreateLogGroupInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := required("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	class := ""
	if in.LogGroupClass != nil {
		switch *in.LogGroupClass {
		case "STANDARD", "INFREQUENT_ACCESS", "DELIVERY":
			class = *in.LogGroupClass
		default:
			return nil, validation("logGroupClass", "'"+*in.LogGroupClass+"'", "Member must satisfy enum value set: [DELIVERY, STANDARD, INFREQUENT_ACCESS]")
		}
	}
	kms := ""
	if in.KmsKeyID != nil {
		kms = *in.KmsKeyID
	}
	return nil, wire(s.groups.CreateLogGroup(ctx, acc, reg, in.LogGroupName, kms, class, in.Tags))
}

// LogGroupNameInput is the request of operations on one group by name.
type LogGroupNameInput struct {
	LogGroupName string `json:"logGroupName"`
}

// DeleteLogGroup deletes a log group.
func (s *Service) DeleteLogGroup(ctx context.Context, in *LogGroupNameInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := required("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	return nil, wire(s.groups.DeleteLogGroup(ctx, acc, reg, in.LogGroupName))
}

// DescribeLogGroupsInput is DescribeLogGroups' request.
type DescribeLogGroupsInput struct {
	LogGroupNamePrefix  *string `json:"logGroupNamePrefix,omitempty"`
	LogGroupNamePattern *string `json:"logGroupNamePattern,omitempty"`
	NextToken           *string `json:"nextToken,omitempty"`
	Limit               *int32  `json:"limit,omitempty"`
	LogGroupClass       *string `json:"logGroupClass,omitempty"`
}

// LogGroup is one group in DescribeLogGroups' answer.
type LogGroup struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   *int32 `json:"retentionInDays,omitempty"`
	MetricFilterCount int32  `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	StoredBytes       int64  `json:"storedBytes"`
	KmsKeyID          string `json:"kmsKeyId,omitempty"`
	LogGroupClass     string `json:"logGroupClass"`
	LogGroupArn       string `json:"logGroupArn"`
}

// DescribeLogGroupsOutput is DescribeLogGroups' answer.
type DescribeLogGroupsOutput struct {
	LogGroups []LogGroup `json:"logGroups"`
	NextToken *string    `json:"nextToken,omitempty"`
}

// DescribeLogGroups lists the caller's log groups in the region.
func (s *Service) DescribeLogGroups(ctx context.Context, in *DescribeLogGroupsInput) (*DescribeLogGroupsOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	lim, err := limit("limit", in.Limit, 50)
	if err != nil {
		return nil, err
	}
	var q logwatch.GroupQuery
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		return nil, invalidf("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.")
	}
	if in.LogGroupNamePrefix != nil {
		q.Prefix = *in.LogGroupNamePrefix
	}
	if in.LogGroupNamePattern != nil {
		q.Pattern = *in.LogGroupNamePattern
	}
	class := ""
	if in.LogGroupClass != nil {
		class = *in.LogGroupClass
	}
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(q.Prefix).Str(q.Pattern).Str(class).Sum()
	off, err := s.page(pagetoken.KindLogGroups, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	all, err := s.groups.LogGroups(ctx, acc, reg, q)
	if err != nil {
		return nil, wire(err)
	}
	if class != "" {
		kept := all[:0]
		for _, g := range all {
			if g.Class == class {
				kept = append(kept, g)
			}
		}
		all = kept
	}
	lo, hi, next := window(len(all), off, lim)
	out := &DescribeLogGroupsOutput{LogGroups: []LogGroup{}, NextToken: s.issue(pagetoken.KindLogGroups, qh, next)}
	for _, g := range all[lo:hi] {
		lg := LogGroup{LogGroupName: g.Name, CreationTime: g.Created.UnixMilli(), MetricFilterCount: int32(g.MetricFilterCount),
			Arn: g.ARN(), StoredBytes: g.StoredBytes, KmsKeyID: g.KmsKeyID, LogGroupClass: g.Class,
			LogGroupArn: logwatch.GroupARN(g.Account, g.Region, g.Name)}
		if g.RetentionDays > 0 {
			d := int32(g.RetentionDays)
			lg.RetentionInDays = &d
		}
		out.LogGroups = append(out.LogGroups, lg)
	}
	return out, nil
}

// PutRetentionPolicyInput is PutRetentionPolicy's request.
type PutRetentionPolicyInput struct {
	LogGroupName    string `json:"logGroupName"`
	RetentionInDays *int32 `json:"retentionInDays"`
}

// PutRetentionPolicy sets a group's retention.
func (s *Service) PutRetentionPolicy(ctx context.Context, in *PutRetentionPolicyInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := required("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if in.RetentionInDays == nil {
		return nil, validation("retentionInDays", "null", "Member must not be null")
	}
	return nil, wire(s.groups.PutRetentionPolicy(ctx, acc, reg, in.LogGroupName, int(*in.RetentionInDays)))
}

// DeleteRetentionPolicy makes a group keep its events forever.
func (s *Service) DeleteRetentionPolicy(ctx context.Context, in *LogGroupNameInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := required("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	return nil, wire(s.groups.DeleteRetentionPolicy(ctx, acc, reg, in.LogGroupName))
}

// TagLogGroupInput is TagLogGroup's request.
type TagLogGroupInput struct {
	LogGroupName string            `json:"logGroupName"`
	Tags         map[string]string `json:"tags"`
}

// TagLogGroup adds tags to a group.
func (s *Service) TagLogGroup(ctx context.Context, in *TagLogGroupInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.groups.TagLogGroup(ctx, acc, reg, in.LogGroupName, in.Tags))
}

// UntagLogGroupInput is UntagLogGroup's request.
type UntagLogGroupInput struct {
	LogGroupName string   `json:"logGroupName"`
	Tags         []string `json:"tags"`
}

// UntagLogGroup removes tags from a group.
func (s *Service) UntagLogGroup(ctx context.Context, in *UntagLogGroupInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.groups.UntagLogGroup(ctx, acc, reg, in.LogGroupName, in.Tags))
}

// ListTagsLogGroupOutput is ListTagsLogGroup's answer.
type ListTagsLogGroupOutput struct {
	Tags map[string]string `json:"tags"`
}

// ListTagsLogGroup lists a group's tags.
func (s *Service) ListTagsLogGroup(ctx context.Context, in *LogGroupNameInput) (*ListTagsLogGroupOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := s.groups.Tags(ctx, acc, reg, in.LogGroupName)
	if err != nil {
		return nil, wire(err)
	}
	return &ListTagsLogGroupOutput{Tags: tags}, nil
}

// ResourceInput names a log group by ARN (TagResource and friends).
type ResourceInput struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags,omitempty"`
	TagKeys     []string          `json:"tagKeys,omitempty"`
}

// resource resolves a log group ARN of the caller's account and region.
func resource(ctx context.Context, arn string) (acc, reg, name string, err error) {
	acc, reg, err = caller(ctx)
	if err != nil {
		return "", "", "", err
	}
	a, r, n, ok := logwatch.ParseGroupARN(arn)
	if !ok || a != acc || r != reg {
		return "", "", "", awsapi404()
	}
	return acc, reg, n, nil
}

func awsapi404() error {
	return wire(&logwatch.Error{Code: logwatch.CodeNotFound, Message: "The specified resource does not exist."})
}

// TagResource adds tags to a log group named by ARN.
func (s *Service) TagResource(ctx context.Context, in *ResourceInput) (*Empty, error) {
	acc, reg, name, err := resource(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.groups.TagLogGroup(ctx, acc, reg, name, in.Tags))
}

// UntagResource removes tags from a log group named by ARN.
func (s *Service) UntagResource(ctx context.Context, in *ResourceInput) (*Empty, error) {
	acc, reg, name, err := resource(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.groups.UntagLogGroup(ctx, acc, reg, name, in.TagKeys))
}

// ListTagsForResource lists the tags of a log group named by ARN.
func (s *Service) ListTagsForResource(ctx context.Context, in *ResourceInput) (*ListTagsLogGroupOutput, error) {
	acc, reg, name, err := resource(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	tags, err := s.groups.Tags(ctx, acc, reg, name)
	if err != nil {
		return nil, wire(err)
	}
	return &ListTagsLogGroupOutput{Tags: tags}, nil
}
