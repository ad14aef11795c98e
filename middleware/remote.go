package middleware

import "errors"

// remote is the Recorder over an opentrail server's capture endpoints.
func remote(o Options) (Recorder, error) {
	return nil, errors.New("middleware: Options.Endpoint is not wired yet")
}
