package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// Bounds of "Validate now": the range one run covers, how long it may
// take, and how many valid files the page lists (problems are all
// listed).
const (
	maxValidateRange   = 7 * 24 * time.Hour
	validateTimeout    = 2 * time.Minute
	maxValidListed     = 500
	formTime           = "2006-01-02T15:04"
	defaultValidateFor = 24 * time.Hour
)

// validateForm is the "Validate now" form, on the trail's page and the
// result's.
type validateForm struct {
	URL, CSRF, Start, End, Region, Account string
	Org                                    bool // an organisation trail: which account's files
}

// resultRow is one validator result as the page lists it.
type resultRow struct {
	Kind, Object, Status, Detail string
	Invalid, Warning             bool
	Start, End                   time.Time
	Backfill                     bool
}

type validateData struct {
	Ref                 trailRef
	Start, End          time.Time
	Form                validateForm
	Account, Region     string
	Org                 bool   // an organisation trail: any member account's files
	Note                string // the range was cut to the cap
	Error               string
	Ran                 bool
	Summary             digest.Summary
	Digests, Logs, Gaps int
	Problems            []resultRow // invalid
	Notices             []resultRow // explained gaps, unverified signatures
	Valid               []resultRow
	ValidNotListed      int
	Took                time.Duration
	MaxRange            string
}

// parseFormTime reads a datetime-local value (UTC) or RFC 3339.
func parseFormTime(s string) (time.Time, error) {
	for _, l := range []string{formTime, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use YYYY-MM-DDTHH:MM (UTC)", s)
}

// trailValidate is POST .../validate: the digest validator over the
// trail's delivered files for a range (default the last 24 hours, at
// most 7 days), as `opentrail validate-logs` runs it, with its result.
func (c trailPages) trailValidate(w http.ResponseWriter, r *http.Request, s *Session) {
	t, ok := c.trailFromPath(w, r, s)
	if !ok {
		return
	}
	info := c.describeOrFail(w, r, s, t)
	if info == nil {
		return
	}
	now := c.clock.Now().UTC()
	d := validateData{Ref: t, Account: t.Account, Region: t.Region, End: now, Start: now.Add(-defaultValidateFor), MaxRange: "7 days", Org: info.IsOrganizationTrail}
	if v := strings.TrimSpace(r.PostFormValue("account")); v != "" && info.IsOrganizationTrail {
		d.Account = v
	}
	if v := strings.TrimSpace(r.PostFormValue("region")); v != "" {
		d.Region = v
	}
	var errs []string
	var err error
	if v := r.PostFormValue("start"); v != "" {
		if d.Start, err = parseFormTime(v); err != nil {
			errs = append(errs, "Start: "+err.Error())
		}
	}
	if v := r.PostFormValue("end"); v != "" {
		if d.End, err = parseFormTime(v); err != nil {
			errs = append(errs, "End: "+err.Error())
		}
	}
	if len(errs) == 0 && d.Start.After(d.End) {
		errs = append(errs, "The start is after the end.")
	}
	if len(errs) == 0 && d.End.Sub(d.Start) > maxValidateRange {
		d.Start = d.End.Add(-maxValidateRange)
		d.Note = "One run checks at most 7 days: the range was cut to the 7 days before its end. Run it again for earlier days, or use opentrail validate-logs for any range."
	}
	d.Form = validateForm{URL: t.URL() + "/validate", CSRF: s.CSRF, Start: d.Start.Format(formTime), End: d.End.Format(formTime),
		Region: d.Region, Account: d.Account, Org: d.Org}
	dl := c.cfg.Trails.Delivery
	switch {
	case len(errs) > 0:
		d.Error = strings.Join(errs, " ")
	case dl == nil:
		d.Error = "This server does not deliver trails itself, so the console cannot read their files. Use opentrail validate-logs."
	default:
		c.runValidation(r.Context(), dl, &d, digest.Trail{
			Bucket: info.S3BucketName, Prefix: info.S3KeyPrefix, Account: d.Account, SourceRegion: d.Region,
			Name: t.Name, HomeRegion: t.Region, OrgID: orgOf(info.IsOrganizationTrail, c.cfg.Trails.OrgID),
		})
	}
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
	}
	c.render(w, r, s, status, "trail_validate", "Validate "+t.Name, d)
}

func orgOf(org bool, id string) string {
	if org {
		return id
	}
	return ""
}

// runValidation runs digest.Validate and fills d with its results.
func (c trailPages) runValidation(ctx context.Context, dl TrailDelivery, d *validateData, t digest.Trail) {
	ctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	t0 := time.Now()
	sum, err := digest.Validate(ctx, dl.Source(t.SourceRegion), t, digest.Options{Start: d.Start, End: d.End, Parallel: 4}, func(res digest.Result) {
		row := resultRow{
			Kind: string(res.Kind), Object: res.Object.String(), Status: string(res.Status), Detail: res.Detail,
			Invalid: res.Invalid(), Warning: res.Status == digest.Explained || res.Status == digest.SignatureUnavailable,
			Start: res.Start, End: res.End, Backfill: res.Backfill,
		}
		switch res.Kind {
		case digest.KindDigest:
			d.Digests++
		case digest.KindLog:
			d.Logs++
		default:
			d.Gaps++
		}
		switch {
		case row.Invalid:
			d.Problems = append(d.Problems, row)
		case row.Warning:
			d.Notices = append(d.Notices, row)
		case len(d.Valid) < maxValidListed:
			d.Valid = append(d.Valid, row)
		default:
			d.ValidNotListed++
		}
	})
	d.Took = time.Since(t0).Round(time.Millisecond)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			d.Error = fmt.Sprintf("Validation stopped after %s, its limit for one run: check a shorter range, or use opentrail validate-logs.", validateTimeout)
		} else {
			d.Error = "Validation could not run: " + err.Error()
		}
		return
	}
	d.Ran, d.Summary = true, sum
}
