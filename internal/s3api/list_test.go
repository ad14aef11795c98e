package s3api_test

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// treeKeys is a small CloudTrail bucket plus keys that need care.
func treeKeys() []string {
	var keys []string
	for _, acct := range []string{acctA, acctB} {
		for _, region := range []string{"eu-west-1", "us-east-1"} {
			for day := 25; day <= 26; day++ {
				for n := range 3 {
					keys = append(keys, fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/2026/11/%02d/%s_CloudTrail_%s_20261126T12%02dZ_%d.json.gz",
						acct, region, day, acct, region, n*5, n))
				}
			}
		}
		keys = append(keys, fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/us-east-1/2026/11/26/%s_CloudTrail-Digest_us-east-1_t_us-east-1_20261126T120000Z.json.gz", acct, acct))
	}
	keys = append(keys, "AWSLogs/readme", "a b/c+d", "a b/c d", "a-b", "a/b", "top", "zz/ü/日本")
	slices.Sort(keys)
	return keys
}

func seedTree(t *testing.T, e *env) []string {
	keys := treeKeys()
	objs := map[string]string{}
	for _, k := range keys {
		objs[k] = "body of " + k
	}
	e.bucket("logs", acctA, objs)
	return keys
}

func TestListObjectsV1(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	keys := seedTree(t, e)
	a := e.client(acctA, "us-east-1")

	// Paging by Marker, as validate-logs does.
	for _, pageSize := range []int32{1, 7, 1000} {
		var got []string
		marker := ""
		for pages := 0; ; pages++ {
			if pages > len(keys) {
				t.Fatal("ListObjects does not end")
			}
			out, err := a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("logs"), Marker: aws.String(marker), MaxKeys: aws.Int32(pageSize)})
			if err != nil {
				t.Fatalf("ListObjects: %v", err)
			}
			if len(out.Contents) > int(pageSize) || aws.ToInt32(out.MaxKeys) != pageSize || out.NextMarker != nil {
				t.Fatalf("ListObjects page: %d objects, MaxKeys %d, NextMarker %v", len(out.Contents), aws.ToInt32(out.MaxKeys), out.NextMarker)
			}
			for _, o := range out.Contents {
				got = append(got, aws.ToString(o.Key))
				if aws.ToInt64(o.Size) != int64(len("body of "+aws.ToString(o.Key))) || !strings.HasPrefix(aws.ToString(o.ETag), `"`) ||
					o.Owner == nil || aws.ToString(o.Owner.DisplayName) != acctA || o.StorageClass != types.ObjectStorageClassStandard {
					t.Errorf("ListObjects entry %+v", o)
				}
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			marker = aws.ToString(out.Contents[len(out.Contents)-1].Key)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("ListObjects pages of %d = %q, want %q", pageSize, got, keys)
		}
	}
	// Keys strictly after the marker, which need not exist.
	out, err := a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("logs"), Marker: aws.String("a b/c d")})
	if err != nil || len(out.Contents) == 0 || aws.ToString(out.Contents[0].Key) != "a b/c+d" || aws.ToString(out.Marker) != "a b/c d" {
		t.Errorf("ListObjects after a key = %+v, %v", out, err)
	}
	out, err = a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("logs"), Marker: aws.String("a-a"), Prefix: aws.String("a")})
	if got := objectKeys(out.Contents); err != nil || !slices.Equal(got, []string{"a-b", "a/b"}) {
		t.Errorf("ListObjects after a missing key = %q, %v", got, err)
	}

	// A delimiter rolls keys up, and NextMarker pages through roll-ups.
	prefix := "AWSLogs/" + acctA + "/"
	var entries []string
	marker := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("delimited ListObjects does not end")
		}
		out, err := a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("logs"), Prefix: aws.String(prefix + "CloudTrail/"),
			Delimiter: aws.String("/"), Marker: aws.String(marker), MaxKeys: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, commonPrefixes(out.CommonPrefixes)...)
		entries = append(entries, objectKeys(out.Contents)...)
		if !aws.ToBool(out.IsTruncated) {
			if out.NextMarker != nil {
				t.Errorf("untruncated page has NextMarker %q", aws.ToString(out.NextMarker))
			}
			break
		}
		marker = aws.ToString(out.NextMarker)
		if marker == "" {
			t.Fatal("truncated delimited page without NextMarker")
		}
	}
	if want := []string{prefix + "CloudTrail/eu-west-1/", prefix + "CloudTrail/us-east-1/"}; !slices.Equal(entries, want) {
		t.Errorf("delimited ListObjects = %q, want %q", entries, want)
	}

	// encoding-type=url encodes keys and says so.
	resp, body := e.raw("GET", "/logs?prefix=a+b%2F&encoding-type=url&delimiter=%2F", acctA, nil, "")
	var res struct {
		Prefix, Delimiter, EncodingType string
		Contents                        []struct{ Key string }
	}
	if err := xml.Unmarshal([]byte(body), &res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ListObjects encoding-type=url: %d %s %v", resp.StatusCode, body, err)
	}
	var encoded []string
	for _, c := range res.Contents {
		encoded = append(encoded, c.Key)
		if dec, err := url.QueryUnescape(c.Key); err != nil || !strings.HasPrefix(dec, "a b/") {
			t.Errorf("encoded key %q decodes to %q, %v", c.Key, dec, err)
		}
	}
	if res.EncodingType != "url" || res.Prefix != "a+b/" || res.Delimiter != "/" || !slices.Equal(encoded, []string{"a+b/c+d", "a+b/c%2Bd"}) {
		t.Errorf("ListObjects encoding-type=url = %+v", res)
	}
	resp, body = e.raw("GET", "/logs?prefix=a+b%2F", acctA, nil, "")
	if resp.StatusCode != 200 || strings.Contains(body, "EncodingType") || !strings.Contains(body, "<Key>a b/c+d</Key>") {
		t.Errorf("ListObjects without encoding-type: %s", body)
	}

	for _, q := range []string{"max-keys=-1", "max-keys=x", "max-keys=99999999999", "encoding-type=base64"} {
		resp, body := e.raw("GET", "/logs?"+q, acctA, nil, "")
		if resp.StatusCode != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
			t.Errorf("ListObjects?%s: %d %s", q, resp.StatusCode, body)
		}
	}
	out, err = a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("logs"), MaxKeys: aws.Int32(0)})
	if err != nil || len(out.Contents) != 0 || aws.ToBool(out.IsTruncated) {
		t.Errorf("ListObjects max-keys 0 = %+v, %v", out, err)
	}
	out, err = a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("logs"), MaxKeys: aws.Int32(5000)})
	if err != nil || aws.ToInt32(out.MaxKeys) != 1000 || len(out.Contents) != len(keys) {
		t.Errorf("ListObjects max-keys 5000: MaxKeys %d, %d objects, %v", aws.ToInt32(out.MaxKeys), len(out.Contents), err)
	}
	_, err = a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("missing")})
	wantErr(t, "ListObjects(missing)", err, "NoSuchBucket", 404)
}

func objectKeys(objs []types.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, aws.ToString(o.Key))
	}
	return out
}

func commonPrefixes(cps []types.CommonPrefix) []string {
	var out []string
	for _, c := range cps {
		out = append(out, aws.ToString(c.Prefix))
	}
	return out
}

func TestListObjectsV2(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	keys := seedTree(t, e)
	a := e.client(acctA, "us-east-1")

	for _, pageSize := range []int32{1, 4, 1000} {
		var got []string
		p := s3.NewListObjectsV2Paginator(a, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), MaxKeys: aws.Int32(pageSize)})
		for pages := 0; p.HasMorePages(); pages++ {
			if pages > len(keys) {
				t.Fatal("ListObjectsV2 does not end")
			}
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}
			if int(aws.ToInt32(out.KeyCount)) != len(out.Contents) || len(out.Contents) > int(pageSize) {
				t.Errorf("ListObjectsV2 page: KeyCount %d, %d objects", aws.ToInt32(out.KeyCount), len(out.Contents))
			}
			if aws.ToBool(out.IsTruncated) != (out.NextContinuationToken != nil) {
				t.Errorf("ListObjectsV2 page: IsTruncated %v, NextContinuationToken %v", aws.ToBool(out.IsTruncated), out.NextContinuationToken)
			}
			for _, o := range out.Contents {
				if o.Owner != nil {
					t.Errorf("ListObjectsV2 without fetch-owner returned owner %+v", o.Owner)
				}
			}
			got = append(got, objectKeys(out.Contents)...)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("ListObjectsV2 pages of %d = %q, want %q", pageSize, got, keys)
		}
	}

	// aws s3 ls s3://logs/AWSLogs/ lists one level.
	out, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), Prefix: aws.String("AWSLogs/"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	if cps, objs := commonPrefixes(out.CommonPrefixes), objectKeys(out.Contents); !slices.Equal(cps, []string{"AWSLogs/111111111111/", "AWSLogs/222222222222/"}) ||
		!slices.Equal(objs, []string{"AWSLogs/readme"}) || aws.ToInt32(out.KeyCount) != 3 || aws.ToString(out.Delimiter) != "/" {
		t.Errorf("ListObjectsV2 one level = prefixes %q objects %q KeyCount %d", cps, objs, aws.ToInt32(out.KeyCount))
	}
	out, err = a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), Delimiter: aws.String("/")})
	if cps := commonPrefixes(out.CommonPrefixes); err != nil || !slices.Equal(cps, []string{"AWSLogs/", "a b/", "a/", "zz/"}) ||
		!slices.Equal(objectKeys(out.Contents), []string{"a-b", "top"}) {
		t.Errorf("ListObjectsV2 root = %q %q, %v", cps, objectKeys(out.Contents), err)
	}
	// Paging through roll-ups, one entry a page.
	var entries []string
	p := s3.NewListObjectsV2Paginator(a, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > len(keys) {
			t.Fatal("delimited ListObjectsV2 does not end")
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out.Contents) + len(out.CommonPrefixes); n != 1 {
			t.Errorf("ListObjectsV2 page of %d entries, want 1", n)
		}
		entries = append(entries, commonPrefixes(out.CommonPrefixes)...)
		entries = append(entries, objectKeys(out.Contents)...)
	}
	if want := []string{"AWSLogs/", "a b/", "a-b", "a/", "top", "zz/"}; !slices.Equal(entries, want) {
		t.Errorf("paged ListObjectsV2 root = %q, want %q", entries, want)
	}
	// A multi-character delimiter.
	out, err = a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), Prefix: aws.String("AWSLogs/1"), Delimiter: aws.String("/2026/")})
	if cps := commonPrefixes(out.CommonPrefixes); err != nil || len(cps) != 3 || cps[0] != "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/" {
		t.Errorf("ListObjectsV2 with delimiter /2026/ = %q, %v", cps, err)
	}

	out, err = a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), StartAfter: aws.String("top"), FetchOwner: aws.Bool(true)})
	if err != nil || !slices.Equal(objectKeys(out.Contents), []string{"zz/ü/日本"}) || out.Contents[0].Owner == nil ||
		aws.ToString(out.Contents[0].Owner.DisplayName) != acctA || aws.ToString(out.StartAfter) != "top" {
		t.Errorf("ListObjectsV2 start-after, fetch-owner = %+v, %v", out, err)
	}
	_, err = a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), ContinuationToken: aws.String("bm90IGEgdG9rZW4=")})
	wantErr(t, "ListObjectsV2 with a forged token", err, "InvalidArgument", 400)
	resp, body := e.raw("GET", "/logs?list-type=2&continuation-token=", acctA, nil, "")
	if resp.StatusCode != 400 || !strings.Contains(body, "The continuation token provided is incorrect") {
		t.Errorf("ListObjectsV2 with an empty token: %d %s", resp.StatusCode, body)
	}
	// The token, not start-after, says where the next page starts.
	first, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), MaxKeys: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	next, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), MaxKeys: aws.Int32(2),
		ContinuationToken: first.NextContinuationToken, StartAfter: aws.String("top")})
	if err != nil || !slices.Equal(objectKeys(next.Contents), keys[2:4]) || aws.ToString(next.ContinuationToken) != aws.ToString(first.NextContinuationToken) {
		t.Errorf("second page = %q, %v; want %q", objectKeys(next.Contents), err, keys[2:4])
	}
}
