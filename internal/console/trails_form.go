package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/trail"
)

// trailForm is the create and edit form, as the user filled it in: on an
// error it is shown again with the same values.
type trailForm struct {
	Edit    bool
	Action  string
	Cancel  string
	Account string

	Name, Region, Bucket, Prefix                        string
	SNSTopic, LogGroupARN, LogRoleARN, KMSKey           string
	MultiRegion, Organization, Validation, GlobalEvents bool
	StartLogging                                        bool

	// Mode is how the events are chosen: simple (the fields below),
	// advanced (AdvancedJSON) or basic (BasicJSON).
	Mode                   string
	Management             string // all, read, write or none
	ExcludeKMS, ExcludeRDS bool
	S3, Lambda             string // one bucket[/prefix] or ARN a line
	S3All, LambdaAll       bool
	DataRW                 string // all, read or write
	AdvancedJSON           string
	BasicJSON              string
	InsightCallRate        bool
	InsightErrorRate       bool

	Error   string
	Note    string
	Regions []string
	CanOrg  bool
}

const (
	insightCallRate  = "ApiCallRateInsight"
	insightErrorRate = "ApiErrorRateInsight"
)

var rwTypes = map[string]string{"all": "All", "read": "ReadOnly", "write": "WriteOnly"}

func rwChoice(t string) string {
	switch t {
	case "ReadOnly":
		return "read"
	case "WriteOnly":
		return "write"
	}
	return "all"
}

// newTrailForm is the create form's defaults, as CloudTrail's console
// sets them: every region, log file validation on, all management
// events, logging started.
func (c trailPages) newTrailForm(s *Session) *trailForm {
	return &trailForm{
		Action: "/trails/new", Cancel: "/trails", Region: c.cfg.DefaultRegion,
		MultiRegion: true, Validation: true, GlobalEvents: true, StartLogging: true,
		Mode: "simple", Management: "all", DataRW: "all",
		Regions: c.regions(), CanOrg: s.User.Principal.Management,
	}
}

// regions are the regions the form offers: the commercial AWS regions
// and the console's default one.
func (c trailPages) regions() []string {
	rs := slices.Clone(trail.AthenaRegions)
	if !slices.Contains(rs, c.cfg.DefaultRegion) {
		rs = append([]string{c.cfg.DefaultRegion}, rs...)
	}
	return rs
}

// readTrailForm reads a posted form into f (whose Edit, Action, Name and
// Region a page has set for an edit).
func readTrailForm(r *http.Request, f *trailForm) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	on := func(k string) bool { return r.PostFormValue(k) != "" }
	if !f.Edit {
		f.Name, f.Region = v("name"), v("region")
	}
	f.Bucket, f.Prefix = v("bucket"), v("prefix")
	f.SNSTopic, f.LogGroupARN, f.LogRoleARN, f.KMSKey = v("sns"), v("loggroup"), v("logrole"), v("kms")
	f.MultiRegion, f.Organization, f.Validation, f.GlobalEvents = on("multiregion"), on("organization"), on("validation"), on("global")
	f.StartLogging = on("start")
	f.Mode, f.Management, f.DataRW = v("mode"), v("management"), v("datarw")
	f.ExcludeKMS, f.ExcludeRDS = on("excludekms"), on("excluderds")
	f.S3, f.Lambda, f.S3All, f.LambdaAll = v("s3"), v("lambda"), on("s3all"), on("lambdaall")
	f.AdvancedJSON, f.BasicJSON = v("advanced"), v("basic")
	f.InsightCallRate, f.InsightErrorRate = on("insightcalls"), on("insighterrors")
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// selectors turns the form's event choice into PutEventSelectors' input:
// basic selectors (the simple form, or BasicJSON) or advanced ones. Only
// JSON that does not parse is refused here; the API checks the rest.
func (f *trailForm) selectors(account string) ([]trail.EventSelector, []trail.AdvancedEventSelector, error) {
	switch f.Mode {
	case "advanced":
		var adv []trail.AdvancedEventSelector
		if err := json.Unmarshal([]byte(f.AdvancedJSON), &adv); err != nil {
			return nil, nil, errors.New("The advanced event selectors are not a JSON array of selectors (as aws cloudtrail put-event-selectors --advanced-event-selectors takes): " + err.Error())
		}
		return nil, adv, nil
	case "basic":
		var basic []trail.EventSelector
		if err := json.Unmarshal([]byte(f.BasicJSON), &basic); err != nil {
			return nil, nil, errors.New("The event selectors are not a JSON array of selectors (as aws cloudtrail put-event-selectors --event-selectors takes): " + err.Error())
		}
		return basic, nil, nil
	}
	var data []trail.DataResource
	if vals := f.s3Values(); len(vals) > 0 {
		data = append(data, trail.DataResource{Type: s3Object, Values: vals})
	}
	if vals := f.lambdaValues(account); len(vals) > 0 {
		data = append(data, trail.DataResource{Type: lambdaFunction, Values: vals})
	}
	yes, no := true, false
	mgmt := trail.EventSelector{ReadWriteType: rwTypes[f.Management], IncludeManagementEvents: &yes, DataResources: []trail.DataResource{}}
	if f.ExcludeKMS {
		mgmt.ExcludeManagementEventSources = append(mgmt.ExcludeManagementEventSources, kmsSource)
	}
	if f.ExcludeRDS {
		mgmt.ExcludeManagementEventSources = append(mgmt.ExcludeManagementEventSources, rdsDataSource)
	}
	dataRW := rwTypes[f.DataRW]
	if dataRW == "" {
		dataRW = "All"
	}
	switch {
	case f.Management == "none":
		return []trail.EventSelector{{ReadWriteType: dataRW, IncludeManagementEvents: &no, DataResources: orEmpty(data)}}, nil, nil
	case mgmt.ReadWriteType == "":
		return nil, nil, errors.New("Choose which management events to log: read and write, read only, write only or none.")
	case len(data) == 0 || dataRW == mgmt.ReadWriteType:
		mgmt.DataResources = orEmpty(data)
		return []trail.EventSelector{mgmt}, nil, nil
	}
	return []trail.EventSelector{mgmt, {ReadWriteType: dataRW, IncludeManagementEvents: &no, DataResources: data}}, nil, nil
}

func orEmpty(d []trail.DataResource) []trail.DataResource {
	if d == nil {
		return []trail.DataResource{}
	}
	return d
}

// s3Values are the S3 data resource values: a line is a bucket, a
// bucket/prefix or an ARN.
func (f *trailForm) s3Values() []string {
	if f.S3All {
		return []string{allS3}
	}
	var out []string
	for _, l := range lines(f.S3) {
		switch {
		case strings.HasPrefix(l, "arn:"):
		case strings.Contains(l, "/"):
			l = s3ARNPrefix + l
		default:
			l = s3ARNPrefix + l + "/"
		}
		out = append(out, l)
	}
	return out
}

// lambdaValues are the Lambda data resource values: a line is a function
// ARN, or a function name in the trail's account and region.
func (f *trailForm) lambdaValues(account string) []string {
	if f.LambdaAll {
		return []string{allLambda}
	}
	var out []string
	for _, l := range lines(f.Lambda) {
		if !strings.HasPrefix(l, "arn:") {
			l = "arn:aws:lambda:" + f.Region + ":" + account + ":function:" + l
		}
		out = append(out, l)
	}
	return out
}

func (f *trailForm) insights() []cloudtrailwire.InsightSelector {
	out := []cloudtrailwire.InsightSelector{}
	if f.InsightCallRate {
		out = append(out, cloudtrailwire.InsightSelector{InsightType: insightCallRate})
	}
	if f.InsightErrorRate {
		out = append(out, cloudtrailwire.InsightSelector{InsightType: insightErrorRate})
	}
	return out
}

// setSelectors fills the form's event choice from a trail's selectors:
// the simple fields when they can say it, else the JSON of the kind the
// trail has.
func (f *trailForm) setSelectors(basic []trail.EventSelector, adv []trail.AdvancedEventSelector) {
	f.Mode, f.Management, f.DataRW = "simple", "all", "all"
	if len(adv) > 0 {
		b, _ := json.MarshalIndent(adv, "", "  ")
		f.Mode, f.AdvancedJSON = "advanced", string(b)
		return
	}
	if len(basic) == 0 || f.simpleFrom(basic) {
		return
	}
	*f = *f.resetSimple()
	b, _ := json.MarshalIndent(basic, "", "  ")
	f.Mode, f.BasicJSON = "basic", string(b)
}

func (f *trailForm) resetSimple() *trailForm {
	g := *f
	g.Management, g.DataRW, g.ExcludeKMS, g.ExcludeRDS = "all", "all", false, false
	g.S3, g.Lambda, g.S3All, g.LambdaAll = "", "", false, false
	return &g
}

// simpleFrom fills the simple fields from basic selectors, and reports
// whether they say exactly what the selectors do (at most one selector
// with management events and one with data resources of S3 or Lambda).
func (f *trailForm) simpleFrom(basic []trail.EventSelector) bool {
	f.Management = "none"
	var mgmtSeen, dataSeen bool
	var s3, lambda []string
	for _, es := range basic {
		rw := rwChoice(es.ReadWriteType)
		incl := es.IncludeManagementEvents == nil || *es.IncludeManagementEvents
		if incl {
			if mgmtSeen {
				return false
			}
			mgmtSeen, f.Management = true, rw
			for _, src := range es.ExcludeManagementEventSources {
				f.ExcludeKMS = f.ExcludeKMS || src == kmsSource
				f.ExcludeRDS = f.ExcludeRDS || src == rdsDataSource
			}
		} else if len(es.ExcludeManagementEventSources) > 0 {
			return false
		}
		if len(es.DataResources) == 0 {
			if !incl && len(basic) > 1 {
				return false
			}
			continue
		}
		if dataSeen {
			return false
		}
		dataSeen, f.DataRW = true, rw
		for _, dr := range es.DataResources {
			for _, v := range dr.Values {
				switch {
				case dr.Type == s3Object && v == allS3:
					f.S3All = true
				case dr.Type == s3Object && strings.HasPrefix(v, s3ARNPrefix) && strings.Contains(v, "/"):
					s3 = append(s3, strings.TrimSuffix(strings.TrimPrefix(v, s3ARNPrefix), "/"))
				case dr.Type == s3Object:
					s3 = append(s3, v)
				case dr.Type == lambdaFunction && v == allLambda:
					f.LambdaAll = true
				case dr.Type == lambdaFunction:
					lambda = append(lambda, v)
				default:
					return false
				}
			}
		}
	}
	f.S3, f.Lambda = strings.Join(s3, "\n"), strings.Join(lambda, "\n")
	return true
}

// trailNew is GET /trails/new.
func (c trailPages) trailNew(w http.ResponseWriter, r *http.Request, s *Session) {
	c.render(w, r, s, http.StatusOK, "trail_form", "Create trail", c.newTrailForm(s))
}

func (c trailPages) formError(w http.ResponseWriter, r *http.Request, s *Session, f *trailForm, msg string) {
	f.Error = msg
	title := "Create trail"
	if f.Edit {
		title = "Edit trail " + f.Name
	}
	c.render(w, r, s, http.StatusBadRequest, "trail_form", title, f)
}

// createTrailInput is CreateTrail's request.
type createTrailInput struct {
	Name                       string
	S3BucketName               string
	S3KeyPrefix                string `json:",omitempty"`
	SnsTopicName               string `json:",omitempty"`
	IncludeGlobalServiceEvents bool
	IsMultiRegionTrail         bool
	EnableLogFileValidation    bool
	CloudWatchLogsLogGroupArn  string `json:",omitempty"`
	CloudWatchLogsRoleArn      string `json:",omitempty"`
	KmsKeyId                   string `json:",omitempty"`
	IsOrganizationTrail        bool
}

// updateTrailInput is UpdateTrail's request: every setting the form
// shows, so an emptied field clears it.
type updateTrailInput struct {
	Name                       string
	S3BucketName               string
	S3KeyPrefix                string
	SnsTopicName               string
	IncludeGlobalServiceEvents bool
	IsMultiRegionTrail         bool
	EnableLogFileValidation    bool
	CloudWatchLogsLogGroupArn  string
	CloudWatchLogsRoleArn      string
	KmsKeyId                   string
	IsOrganizationTrail        bool
}

type putSelectorsInput struct {
	TrailName              string
	EventSelectors         []trail.EventSelector         `json:",omitempty"`
	AdvancedEventSelectors []trail.AdvancedEventSelector `json:",omitempty"`
}

type putInsightsInput struct {
	TrailName        string
	InsightSelectors []cloudtrailwire.InsightSelector
}

// trailCreate is POST /trails/new: CreateTrail in the chosen region,
// then the selectors, Insights and StartLogging the form asks for.
func (c trailPages) trailCreate(w http.ResponseWriter, r *http.Request, s *Session) {
	f := c.newTrailForm(s)
	readTrailForm(r, f)
	p := s.User.Principal
	basic, adv, err := f.selectors(p.AccountID)
	if err != nil {
		c.formError(w, r, s, f, err.Error())
		return
	}
	in := createTrailInput{
		Name: f.Name, S3BucketName: f.Bucket, S3KeyPrefix: f.Prefix, SnsTopicName: f.SNSTopic,
		IncludeGlobalServiceEvents: f.GlobalEvents, IsMultiRegionTrail: f.MultiRegion, EnableLogFileValidation: f.Validation,
		CloudWatchLogsLogGroupArn: f.LogGroupARN, CloudWatchLogsRoleArn: f.LogRoleARN, KmsKeyId: f.KMSKey, IsOrganizationTrail: f.Organization,
	}
	var out cloudtrailwire.TrailInfo
	if err := c.callIn(r, s, f.Region, "cloudtrail", "CreateTrail", in, &out); err != nil {
		c.formError(w, r, s, f, apiMessage("CreateTrail", err))
		return
	}
	t := trailRef{Account: p.AccountID, Region: f.Region, Name: f.Name, p: p}
	// From here the trail exists: a refused step leaves the user on its
	// edit form, with what they entered, to fix and save.
	edit := func(msg string) {
		f.Edit, f.Action, f.Cancel = true, t.URL()+"/edit", t.URL()
		f.Note = "The trail was created, but not everything you asked for was applied."
		c.formError(w, r, s, f, msg)
	}
	if !isDefaultSelection(basic, adv) {
		if err := c.callIn(r, s, f.Region, "cloudtrail", "PutEventSelectors", putSelectorsInput{TrailName: f.Name, EventSelectors: basic, AdvancedEventSelectors: adv}, nil); err != nil {
			edit(apiMessage("PutEventSelectors", err))
			return
		}
	}
	if ins := f.insights(); len(ins) > 0 {
		if err := c.callIn(r, s, f.Region, "cloudtrail", "PutInsightSelectors", putInsightsInput{TrailName: f.Name, InsightSelectors: ins}, nil); err != nil {
			edit(apiMessage("PutInsightSelectors", err))
			return
		}
	}
	if f.StartLogging {
		if err := c.callIn(r, s, f.Region, "cloudtrail", "StartLogging", cloudtrailwire.TrailNameInput{Name: &f.Name}, nil); err != nil {
			edit(apiMessage("StartLogging", err))
			return
		}
	}
	http.Redirect(w, r, t.URL()+"?done=created", http.StatusSeeOther)
}

// isDefaultSelection reports whether the selectors are what a new trail
// has without PutEventSelectors: all management events.
func isDefaultSelection(basic []trail.EventSelector, adv []trail.AdvancedEventSelector) bool {
	if len(adv) > 0 || len(basic) != 1 {
		return false
	}
	es := basic[0]
	return es.ReadWriteType == "All" && es.IncludeManagementEvents != nil && *es.IncludeManagementEvents &&
		len(es.DataResources) == 0 && len(es.ExcludeManagementEventSources) == 0
}

// editForm is the edit form of the path's trail filled from the API,
// with the trail's selectors and Insights selectors; nil when it wrote an
// error page instead.
func (c trailPages) editForm(w http.ResponseWriter, r *http.Request, s *Session) (trailRef, *trailForm, *cloudtrailwire.EventSelectorsOutput, []cloudtrailwire.InsightSelector) {
	t, ok := c.trailFromPath(w, r, s)
	if !ok {
		return t, nil, nil, nil
	}
	info := c.describeOrFail(w, r, s, t)
	if info == nil {
		return t, nil, nil, nil
	}
	fail := func(op string, err error) (trailRef, *trailForm, *cloudtrailwire.EventSelectorsOutput, []cloudtrailwire.InsightSelector) {
		c.errorPage(w, r, s, http.StatusBadGateway, "Trail unavailable", apiMessage(op, err))
		return t, nil, nil, nil
	}
	f := &trailForm{
		Edit: true, Action: t.URL() + "/edit", Cancel: t.URL(), Account: t.Account, Name: t.Name, Region: t.Region,
		Bucket: info.S3BucketName, Prefix: info.S3KeyPrefix, SNSTopic: info.SnsTopicName,
		LogGroupARN: info.CloudWatchLogsLogGroupArn, LogRoleARN: info.CloudWatchLogsRoleArn, KMSKey: info.KmsKeyID,
		MultiRegion: info.IsMultiRegionTrail, Organization: info.IsOrganizationTrail, Validation: info.LogFileValidationEnabled,
		GlobalEvents: info.IncludeGlobalServiceEvents, Regions: c.regions(), CanOrg: t.p.Management || info.IsOrganizationTrail,
	}
	arn := t.ARN()
	var sel cloudtrailwire.EventSelectorsOutput
	if err := c.callAs(r, t.p, t.Region, "cloudtrail", "GetEventSelectors", cloudtrailwire.TrailNameRefInput{TrailName: &arn}, &sel); err != nil {
		return fail("GetEventSelectors", err)
	}
	f.setSelectors(sel.EventSelectors, sel.AdvancedEventSelectors)
	ins, err := c.insightSelectors(r, t)
	if err != nil {
		return fail("GetInsightSelectors", err)
	}
	for _, is := range ins {
		f.InsightCallRate = f.InsightCallRate || is.InsightType == insightCallRate
		f.InsightErrorRate = f.InsightErrorRate || is.InsightType == insightErrorRate
	}
	return t, f, &sel, ins
}

// trailEdit is GET .../edit.
func (c trailPages) trailEdit(w http.ResponseWriter, r *http.Request, s *Session) {
	if t, f, _, _ := c.editForm(w, r, s); f != nil {
		c.render(w, r, s, http.StatusOK, "trail_form", "Edit trail "+t.Name, f)
	}
}

// trailUpdate is POST .../edit: UpdateTrail, then PutEventSelectors and
// PutInsightSelectors for what changed, each in the trail's home region.
func (c trailPages) trailUpdate(w http.ResponseWriter, r *http.Request, s *Session) {
	t, f, cur, curIns := c.editForm(w, r, s)
	if f == nil {
		return
	}
	*f = *f.resetSimple()
	readTrailForm(r, f)
	basic, adv, err := f.selectors(t.Account)
	if err != nil {
		c.formError(w, r, s, f, err.Error())
		return
	}
	arn := t.ARN()
	in := updateTrailInput{
		Name: arn, S3BucketName: f.Bucket, S3KeyPrefix: f.Prefix, SnsTopicName: f.SNSTopic,
		IncludeGlobalServiceEvents: f.GlobalEvents, IsMultiRegionTrail: f.MultiRegion, EnableLogFileValidation: f.Validation,
		CloudWatchLogsLogGroupArn: f.LogGroupARN, CloudWatchLogsRoleArn: f.LogRoleARN, KmsKeyId: f.KMSKey, IsOrganizationTrail: f.Organization,
	}
	if err := c.callAs(r, t.p, t.Region, "cloudtrail", "UpdateTrail", in, nil); err != nil {
		c.formError(w, r, s, f, apiMessage("UpdateTrail", err))
		return
	}
	curDefault := len(cur.EventSelectors) == 0 && len(cur.AdvancedEventSelectors) == 0
	same := reflect.DeepEqual(cur.EventSelectors, basic) && reflect.DeepEqual(cur.AdvancedEventSelectors, adv) ||
		curDefault && isDefaultSelection(basic, adv)
	if !same {
		if err := c.callAs(r, t.p, t.Region, "cloudtrail", "PutEventSelectors", putSelectorsInput{TrailName: arn, EventSelectors: basic, AdvancedEventSelectors: adv}, nil); err != nil {
			f.Note = "The trail's settings were saved; its event selectors were not."
			c.formError(w, r, s, f, apiMessage("PutEventSelectors", err))
			return
		}
	}
	if ins := f.insights(); !sameInsights(curIns, ins) {
		if err := c.callAs(r, t.p, t.Region, "cloudtrail", "PutInsightSelectors", putInsightsInput{TrailName: arn, InsightSelectors: ins}, nil); err != nil {
			f.Note = "The trail's settings and event selectors were saved; its Insights selectors were not."
			c.formError(w, r, s, f, apiMessage("PutInsightSelectors", err))
			return
		}
	}
	http.Redirect(w, r, t.URL()+"?done=updated", http.StatusSeeOther)
}

// sameInsights reports whether two Insights selections enable the same
// types (the form does not choose event categories: a trail's own
// categories are kept unless a type is added or removed).
func sameInsights(a, b []cloudtrailwire.InsightSelector) bool {
	types := func(l []cloudtrailwire.InsightSelector) []string {
		var out []string
		for _, is := range l {
			out = append(out, is.InsightType)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(types(a), types(b))
}
