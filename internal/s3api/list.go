package s3api

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/objstore"
)

// maxListKeys is the most entries one listing page holds, as in S3.
const maxListKeys = 1000

// listQuery is what a ListObjects or ListObjectsV2 request asks for.
type listQuery struct {
	prefix    string
	delimiter string
	maxKeys   int  // as requested, capped at maxListKeys
	encodeURL bool // encoding-type=url
	// v1
	marker string
	// v2
	v2         bool
	token      string // continuation-token as sent
	hasToken   bool
	tokenAfter string // the position the token stands for
	startAfter string
	fetchOwner bool
}

// after is the position the listing starts after.
func (lq *listQuery) after() string {
	switch {
	case !lq.v2:
		return lq.marker
	case lq.hasToken:
		return lq.tokenAfter
	}
	return lq.startAfter
}

// parseListQuery reads the parameters of a listing request.
func parseListQuery(q url.Values, v2 bool) (listQuery, error) {
	lq := listQuery{
		prefix:    q.Get("prefix"),
		delimiter: q.Get("delimiter"),
		maxKeys:   maxListKeys,
		v2:        v2,
	}
	if q.Has("max-keys") {
		n, err := strconv.ParseInt(q.Get("max-keys"), 10, 32)
		if err != nil || n < 0 {
			return lq, invalidArgument("Provided max-keys not an integer or within integer range")
		}
		lq.maxKeys = int(min(n, maxListKeys))
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		lq.encodeURL = true
	default:
		return lq, invalidArgument("Invalid Encoding Method specified in Request")
	}
	if !v2 {
		lq.marker = q.Get("marker")
		return lq, nil
	}
	lq.startAfter = q.Get("start-after")
	lq.fetchOwner = q.Get("fetch-owner") == "true"
	if q.Has("continuation-token") {
		lq.hasToken = true
		lq.token = q.Get("continuation-token")
		after, err := decodeToken(lq.token)
		if err != nil {
			return lq, invalidArgument("The continuation token provided is incorrect")
		}
		lq.tokenAfter = after
	}
	return lq, nil
}

// listPage is one page of a listing.
type listPage struct {
	objects   []objstore.Info
	prefixes  []string
	truncated bool
	last      string // the last key or common prefix on the page
}

// skipPast is the smallest string above every key that starts with p:
// keys are valid UTF-8 and so never hold the byte 0xff.
func skipPast(p string) string { return p + "\xff" }

// listEntries pages through b as S3 does: the objects whose keys start
// with prefix and sort after the position after, in byte order, with the
// keys that hold delimiter after the prefix rolled up into common
// prefixes (each counted once, as one entry), at most maxKeys entries.
// A common prefix that sorts at or before after was on an earlier page
// (or lies before the marker) and is not returned again.
func listEntries(ctx context.Context, b objstore.Bucket, prefix, delimiter, after string, maxKeys int) (listPage, error) {
	var pg listPage
	if maxKeys <= 0 {
		return pg, nil
	}
	count := 0
	cursor := after
	for {
		infos, more, err := b.List(ctx, prefix, cursor, min(maxKeys-count+1, maxListKeys))
		if err != nil {
			return pg, err
		}
		if len(infos) == 0 {
			return pg, nil
		}
		restart := false
		for _, in := range infos {
			if delimiter != "" {
				if i := strings.Index(in.Key[len(prefix):], delimiter); i >= 0 {
					cp := in.Key[:len(prefix)+i+len(delimiter)]
					if cp > after {
						if count == maxKeys {
							pg.truncated = true
							return pg, nil
						}
						pg.prefixes = append(pg.prefixes, cp)
						pg.last = cp
						count++
					}
					// Skip the rest of the roll-up in one step.
					cursor = skipPast(cp)
					restart = true
					break
				}
			}
			if count == maxKeys {
				pg.truncated = true
				return pg, nil
			}
			pg.objects = append(pg.objects, in)
			pg.last = in.Key
			cursor = in.Key
			count++
		}
		if !restart && !more {
			return pg, nil
		}
	}
}

// listEntry is an object in a listing.
type listEntry struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	Owner        *owner `xml:",omitempty"`
	StorageClass string
}

type commonPrefix struct {
	Prefix string
}

type listBucketResult struct {
	XMLName        xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string
	Prefix         string
	Marker         string
	NextMarker     string `xml:",omitempty"`
	MaxKeys        int
	Delimiter      string `xml:",omitempty"`
	IsTruncated    bool
	Contents       []listEntry
	CommonPrefixes []commonPrefix
	EncodingType   string `xml:",omitempty"`
}

type listBucketResultV2 struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	Contents              []listEntry
	CommonPrefixes        []commonPrefix
	EncodingType          string `xml:",omitempty"`
}

// encodeKey URL-encodes s for encoding-type=url as S3 does: as a query
// value ("+" for space) but with "/" left alone.
func encodeKey(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

// list runs a listing request and returns its page, the query and a
// function that encodes names for the response.
func (rq *request) list(v2 bool) (listPage, listQuery, objstore.BucketInfo, func(string) string, error) {
	lq, err := parseListQuery(rq.query, v2)
	if err != nil {
		return listPage{}, lq, objstore.BucketInfo{}, nil, err
	}
	info, err := rq.authorize()
	if err != nil {
		return listPage{}, lq, info, nil, err
	}
	b, err := rq.h.buckets.Bucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return listPage{}, lq, info, nil, err
	}
	pg, err := listEntries(rq.r.Context(), b, lq.prefix, lq.delimiter, lq.after(), lq.maxKeys)
	if err != nil {
		return listPage{}, lq, info, nil, err
	}
	enc := func(s string) string { return s }
	if lq.encodeURL {
		enc = encodeKey
	}
	return pg, lq, info, enc, nil
}

func entries(pg listPage, enc func(string) string, own *owner) ([]listEntry, []commonPrefix) {
	var objs []listEntry
	for _, in := range pg.objects {
		objs = append(objs, listEntry{
			Key:          enc(in.Key),
			LastModified: s3Time(in.Modified),
			ETag:         `"` + in.ETag + `"`,
			Size:         in.Size,
			Owner:        own,
			StorageClass: "STANDARD",
		})
	}
	var cps []commonPrefix
	for _, p := range pg.prefixes {
		cps = append(cps, commonPrefix{Prefix: enc(p)})
	}
	return objs, cps
}

func (rq *request) listObjectsV1() error {
	pg, lq, info, enc, err := rq.list(false)
	if err != nil {
		return err
	}
	res := listBucketResult{
		Name:        rq.bucket,
		Prefix:      enc(lq.prefix),
		Marker:      enc(lq.marker),
		MaxKeys:     lq.maxKeys,
		Delimiter:   enc(lq.delimiter),
		IsTruncated: pg.truncated,
	}
	// S3 sends NextMarker only with a delimiter; without one, clients
	// continue from the last key.
	if pg.truncated && lq.delimiter != "" {
		res.NextMarker = enc(pg.last)
	}
	res.Contents, res.CommonPrefixes = entries(pg, enc, ownerOf(info.Owner))
	if lq.encodeURL {
		res.EncodingType = "url"
	}
	return rq.writeXML(http.StatusOK, res)
}

func (rq *request) listObjectsV2() error {
	pg, lq, info, enc, err := rq.list(true)
	if err != nil {
		return err
	}
	res := listBucketResultV2{
		Name:              rq.bucket,
		Prefix:            enc(lq.prefix),
		Delimiter:         enc(lq.delimiter),
		MaxKeys:           lq.maxKeys,
		KeyCount:          len(pg.objects) + len(pg.prefixes),
		IsTruncated:       pg.truncated,
		ContinuationToken: lq.token,
		StartAfter:        enc(lq.startAfter),
	}
	if pg.truncated {
		res.NextContinuationToken = encodeToken(pg.last)
	}
	var own *owner
	if lq.fetchOwner {
		own = ownerOf(info.Owner)
	}
	res.Contents, res.CommonPrefixes = entries(pg, enc, own)
	if lq.encodeURL {
		res.EncodingType = "url"
	}
	return rq.writeXML(http.StatusOK, res)
}
