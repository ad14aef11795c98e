// Package reliability is opentrail's reliability and security harness:
// each test (T1 kill -9 during ingest, T5 disk full, T7 SigV4 forgeries,
// T8 cross-tenant probing, ...) runs the real server as its own process,
// attacks or breaks it, and measures a figure. In short mode (the default,
// run by scripts/test) each test asserts its figure against a bound; with
// -long it runs longer and harder, and with -doc it writes every figure,
// the command, machine and date to docs/reliability.md.
// The package has no non-test code.
package reliability
