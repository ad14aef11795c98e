package cloudtrail

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/servicetest"
)

// createChannel creates the channel name as account/region and returns its ARN.
func (e *env) createChannel(account, region, name string) string {
	e.t.Helper()
	return servicetest.CreateChannel(e.t, e.json, account, region, name)
}

func TestChannelLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateChannel",
		`{"Name":"my-app.events_1","Source":"Custom","Destinations":[{"Type":"EVENT_DATA_STORE","Location":"`+servicetest.EDSARN+`"}],`+
			`"Tags":[{"Key":"team","Value":"sec"},{"Key":"bare"}]}`)
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct {
		ChannelArn, Name, Source string
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	id, ok := strings.CutPrefix(created.ChannelArn, "arn:aws:cloudtrail:eu-central-1:210987654321:channel/")
	if !ok || len(id) != 36 {
		t.Fatalf("ChannelArn %q", created.ChannelArn)
	}
	want := `{"ChannelArn":"` + created.ChannelArn + `","Name":"my-app.events_1","Source":"Custom",` +
		`"Destinations":[{"Type":"EVENT_DATA_STORE","Location":"` + servicetest.EDSARN + `"}],` +
		`"Tags":[{"Key":"team","Value":"sec"},{"Key":"bare"}]}`
	if body != want {
		t.Errorf("create response\n got %s\nwant %s", body, want)
	}

	wantGet := `{"ChannelArn":"` + created.ChannelArn + `","Name":"my-app.events_1","Source":"Custom",` +
		`"Destinations":[{"Type":"EVENT_DATA_STORE","Location":"` + servicetest.EDSARN + `"}],"IngestionStatus":{}}`
	for _, ref := range []string{created.ChannelArn, id} {
		status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetChannel", fmt.Sprintf(`{"Channel":%q}`, ref))
		if status != 200 || body != wantGet {
			t.Errorf("get %s: %d\n got %s\nwant %s", ref, status, body, wantGet)
		}
	}

	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "ListChannels", `{}`)
	if want := `{"Channels":[{"ChannelArn":"` + created.ChannelArn + `","Name":"my-app.events_1"}]}`; status != 200 || body != want {
		t.Errorf("list: %d %s", status, body)
	}
	// Other accounts and regions see nothing.
	for _, ar := range [][2]string{{servicetest.AcctB, servicetest.RegionA}, {servicetest.AcctA, servicetest.RegionB}} {
		status, body = e.call(ar[0], ar[1], "ListChannels", `{}`)
		if status != 200 || body != `{"Channels":[]}` {
			t.Errorf("list as %v: %d %s", ar, status, body)
		}
		status, body = e.call(ar[0], ar[1], "GetChannel", fmt.Sprintf(`{"Channel":%q}`, created.ChannelArn))
		servicetest.WantError(t, status, body, 400, "ChannelNotFoundException", "Channel "+created.ChannelArn+" does not exist.")
		status, body = e.call(ar[0], ar[1], "DeleteChannel", fmt.Sprintf(`{"Channel":%q}`, created.ChannelArn))
		servicetest.WantError(t, status, body, 400, "ChannelNotFoundException", "Channel "+created.ChannelArn+" does not exist.")
	}

	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DeleteChannel", fmt.Sprintf(`{"Channel":%q}`, id))
	if status != 200 || body != `{}` {
		t.Errorf("delete: %d %s", status, body)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetChannel", fmt.Sprintf(`{"Channel":%q}`, created.ChannelArn))
	servicetest.WantError(t, status, body, 400, "ChannelNotFoundException", "Channel "+created.ChannelArn+" does not exist.")
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DeleteChannel", fmt.Sprintf(`{"Channel":%q}`, created.ChannelArn))
	servicetest.WantError(t, status, body, 400, "ChannelNotFoundException", "Channel "+created.ChannelArn+" does not exist.")
}

func TestCreateChannelValidation(t *testing.T) {
	e := newEnv(t, Options{})
	e.createChannel(servicetest.AcctA, servicetest.RegionA, "taken")
	dest := `"Destinations":[{"Type":"EVENT_DATA_STORE","Location":"` + servicetest.EDSARN + `"}]`
	manyTags := make([]string, 51)
	for i := range manyTags {
		manyTags[i] = fmt.Sprintf(`{"Key":"k%d","Value":"v"}`, i)
	}
	tests := []struct {
		name, body, code, msg string
	}{
		{"no name", `{"Source":"Custom",` + dest + `}`, "InvalidParameterException", "Name is required."},
		{"short name", `{"Name":"ab","Source":"Custom",` + dest + `}`, "InvalidParameterException",
			`Channel name "ab" is not valid: use 3 to 128 letters, digits, periods (.), underscores (_) and hyphens (-).`},
		{"bad char", `{"Name":"my channel","Source":"Custom",` + dest + `}`, "InvalidParameterException",
			`Channel name "my channel" is not valid: use 3 to 128 letters, digits, periods (.), underscores (_) and hyphens (-).`},
		{"long name", `{"Name":"` + strings.Repeat("n", 129) + `","Source":"Custom",` + dest + `}`, "InvalidParameterException",
			`Channel name "` + strings.Repeat("n", 128) + `…" is not valid: use 3 to 128 letters, digits, periods (.), underscores (_) and hyphens (-).`},
		{"no source", `{"Name":"abc",` + dest + `}`, "InvalidParameterException", "Source is required."},
		{"empty source", `{"Name":"abc","Source":"",` + dest + `}`, "InvalidSourceException", "Source must be 1 to 256 characters long."},
		{"no destinations", `{"Name":"abc","Source":"Custom"}`, "InvalidParameterException", "Destinations must list 1 to 200 destinations; got 0."},
		{"destination without location", `{"Name":"abc","Source":"Custom","Destinations":[{"Type":"EVENT_DATA_STORE"}]}`,
			"InvalidParameterException", "Destinations[0] needs both Type and Location."},
		{"AWS_SERVICE", `{"Name":"abc","Source":"Custom","Destinations":[{"Type":"AWS_SERVICE","Location":"config.amazonaws.com"}]}`,
			"InvalidParameterException", "AWS_SERVICE destinations belong to service-linked channels; CreateChannel accepts only EVENT_DATA_STORE destinations."},
		{"bad type", `{"Name":"abc","Source":"Custom","Destinations":[{"Type":"S3","Location":"bucket"}]}`,
			"InvalidParameterException", `Destination type "S3" is not valid; use EVENT_DATA_STORE.`},
		{"bad location chars", `{"Name":"abc","Source":"Custom","Destinations":[{"Type":"EVENT_DATA_STORE","Location":"a b"}]}`,
			"EventDataStoreARNInvalidException", `Destination location "a b" is not a valid event data store ARN or ID.`},
		{"not an EDS ARN", `{"Name":"abc","Source":"Custom","Destinations":[{"Type":"EVENT_DATA_STORE","Location":"arn:aws:s3:::bucket"}]}`,
			"EventDataStoreARNInvalidException", `Destination location "arn:aws:s3:::bucket" is not a valid event data store ARN.`},
		{"too many tags", `{"Name":"abc","Source":"Custom",` + dest + `,"Tags":[` + strings.Join(manyTags, ",") + `]}`,
			"TagsLimitExceededException", "A resource can have at most 50 tags; got 51."},
		{"tag without key", `{"Name":"abc","Source":"Custom",` + dest + `,"Tags":[{"Value":"v"}]}`,
			"InvalidTagParameterException", "Every tag needs a Key."},
		{"reserved tag", `{"Name":"abc","Source":"Custom",` + dest + `,"Tags":[{"Key":"aws:x"}]}`,
			"InvalidTagParameterException", `Tag key "aws:x" uses the reserved prefix aws:.`},
		{"empty tag value", `{"Name":"abc","Source":"Custom",` + dest + `,"Tags":[{"Key":"k","Value":""}]}`,
			"InvalidTagParameterException", `The value of tag "k" must be 1 to 256 characters long.`},
		{"duplicate tag", `{"Name":"abc","Source":"Custom",` + dest + `,"Tags":[{"Key":"k"},{"Key":"k"}]}`,
			"InvalidTagParameterException", `Tag key "k" appears more than once.`},
		{"name taken", servicetest.ChannelBody("taken"), "ChannelAlreadyExistsException", "A channel named taken already exists."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateChannel", tt.body)
			servicetest.WantError(t, status, body, 400, tt.code, tt.msg)
		})
	}
	// The same name is free in another region or account.
	e.createChannel(servicetest.AcctA, servicetest.RegionB, "taken")
	e.createChannel(servicetest.AcctB, servicetest.RegionA, "taken")
}

func TestChannelLimit(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 0; i < 25; i++ {
		e.createChannel(servicetest.AcctA, servicetest.RegionA, fmt.Sprintf("ch-%02d", i))
	}
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateChannel", servicetest.ChannelBody("one-more"))
	servicetest.WantError(t, status, body, 400, "ChannelMaxLimitExceededException", "The account already has 25 channels in eu-central-1, the most allowed.")
	e.createChannel(servicetest.AcctA, servicetest.RegionB, "one-more") // the limit is per region
}

func TestChannelReferences(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name, ref, code, msg string
	}{
		{"missing", ``, "InvalidParameterException", "Channel is required."},
		{"too short", `ab`, "ChannelARNInvalidException", `"ab" is not a valid channel ARN or ID.`},
		{"bad chars", `a b c`, "ChannelARNInvalidException", `"a b c" is not a valid channel ARN or ID.`},
		{"trail ARN", `arn:aws:cloudtrail:eu-central-1:210987654321:trail/x`, "ChannelARNInvalidException",
			`"arn:aws:cloudtrail:eu-central-1:210987654321:trail/x" is not a valid channel ARN.`},
		{"bad account", `arn:aws:cloudtrail:eu-central-1:2109:channel/x`, "ChannelARNInvalidException",
			`"arn:aws:cloudtrail:eu-central-1:2109:channel/x" is not a valid channel ARN.`},
		{"slash in id", `abc/def`, "ChannelARNInvalidException", `"abc/def" is not a valid channel ARN or ID.`},
		{"unknown id", `0f5e3c2a-1111-4222-8333-444455556666`, "ChannelNotFoundException",
			"Channel arn:aws:cloudtrail:eu-central-1:210987654321:channel/0f5e3c2a-1111-4222-8333-444455556666 does not exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, op := range []string{"GetChannel", "DeleteChannel"} {
				body := `{}`
				if tt.ref != "" {
					body = fmt.Sprintf(`{"Channel":%q}`, tt.ref)
				}
				status, resp := e.call(servicetest.AcctA, servicetest.RegionA, op, body)
				servicetest.WantError(t, status, resp, 400, tt.code, tt.msg)
			}
		})
	}
}

func TestListChannelsPaging(t *testing.T) {
	e := newEnv(t, Options{})
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		want[e.createChannel(servicetest.AcctA, servicetest.RegionA, fmt.Sprintf("ch-%d", i))] = true
	}
	e.createChannel(servicetest.AcctA, servicetest.RegionB, "elsewhere")
	got := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		body := `{"MaxResults":3}`
		if token != "" {
			body = fmt.Sprintf(`{"MaxResults":3,"NextToken":%q}`, token)
		}
		status, resp := e.call(servicetest.AcctA, servicetest.RegionA, "ListChannels", body)
		var out struct {
			Channels  []struct{ ChannelArn, Name string }
			NextToken string
		}
		if status != 200 || json.Unmarshal([]byte(resp), &out) != nil {
			t.Fatalf("list: %d %s", status, resp)
		}
		if len(out.Channels) > 3 {
			t.Fatalf("page of %d", len(out.Channels))
		}
		for _, c := range out.Channels {
			if got[c.ChannelArn] || !want[c.ChannelArn] {
				t.Fatalf("unexpected or repeated %s", c.ChannelArn)
			}
			got[c.ChannelArn] = true
		}
		token = out.NextToken
		if token == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		// The token is bound to the account and region.
		status, resp = e.call(servicetest.AcctA, servicetest.RegionB, "ListChannels", fmt.Sprintf(`{"NextToken":%q}`, token))
		servicetest.WantError(t, status, resp, 400, "InvalidNextTokenException",
			"The NextToken was issued for a request with different parameters; repeat the original parameters with it.")
	}
	if len(got) != 7 {
		t.Errorf("listed %d channels, want 7", len(got))
	}
	for _, tt := range []struct{ body, code, msg string }{
		{`{"MaxResults":0}`, "InvalidParameterException", "MaxResults must be between 1 and 1000; got 0."},
		{`{"MaxResults":1001}`, "InvalidParameterException", "MaxResults must be between 1 and 1000; got 1001."},
		{`{"NextToken":"garbage!"}`, "InvalidNextTokenException", "The NextToken is not valid."},
	} {
		status, resp := e.call(servicetest.AcctA, servicetest.RegionA, "ListChannels", tt.body)
		servicetest.WantError(t, status, resp, 400, tt.code, tt.msg)
	}
}
