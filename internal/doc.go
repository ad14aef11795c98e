// Package internal holds opentrail's packages; they are not a public API.
package internal
