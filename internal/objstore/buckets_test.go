package objstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/objstore"
)

func TestValidateBucketName(t *testing.T) {
	good := []string{
		"abc", "my-bucket", "my.bucket.name", "a1b", "123", "0-0", "trail-logs-111122223333",
		strings.Repeat("a", 63), "1.2.3", "1.2.3.4.5", "1.2.3.a", "xn-a", "s3alias", "a-s3alia",
	}
	for _, name := range good {
		if err := objstore.ValidateBucketName(name); err != nil {
			t.Errorf("ValidateBucketName(%q) = %v, want nil", name, err)
		}
	}
	bad := []struct{ name, why string }{
		{"", "characters"},
		{"ab", "2 characters"},
		{strings.Repeat("a", 64), "64 characters"},
		{"My-Bucket", "character 'M'"},
		{"my_bucket", "character '_'"},
		{"my bucket", "character ' '"},
		{"bücket", "not allowed"},
		{"-bucket", "begin and end"},
		{"bucket-", "begin and end"},
		{".bucket", "begin and end"},
		{"bucket.", "begin and end"},
		{"my..bucket", "adjacent periods"},
		{"192.168.5.4", "IP address"},
		{"1.1.1.1", "IP address"},
		{"xn--bucket", `"xn--"`},
		{"sthree-bucket", `"sthree-"`},
		{"amzn-s3-demo-bucket", `"amzn-s3-demo-"`},
		{"bucket-s3alias", `"-s3alias"`},
		{"bucket--ol-s3", `"--ol-s3"`},
		{"bucket.mrap", `".mrap"`},
		{"bucket--x-s3", `"--x-s3"`},
		{"bucket--table-s3", `"--table-s3"`},
		{"a/b", "character '/'"},
	}
	for _, tc := range bad {
		err := objstore.ValidateBucketName(tc.name)
		if !errors.Is(err, objstore.ErrInvalidBucketName) {
			t.Errorf("ValidateBucketName(%q) = %v, want ErrInvalidBucketName", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ValidateBucketName(%q) = %q, want it to mention %q", tc.name, err, tc.why)
		}
	}
}

// FuzzValidateBucketName checks that every accepted name is safe to use
// as a single file name and keeps the rules it promises.
func FuzzValidateBucketName(f *testing.F) {
	for _, s := range []string{"abc", "a.b-c", "1.2.3.4", "xn--a", "..", "a..b", "A", "a/b", ".create-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := objstore.ValidateBucketName(name)
		if err != nil {
			if !errors.Is(err, objstore.ErrInvalidBucketName) {
				t.Fatalf("ValidateBucketName(%q) = %v, not ErrInvalidBucketName", name, err)
			}
			return
		}
		if len(name) < 3 || len(name) > 63 || strings.ContainsAny(name, "/\\\x00 ") ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") || strings.Contains(name, "..") ||
			strings.ToLower(name) != name {
			t.Fatalf("ValidateBucketName accepted %q", name)
		}
	})
}
