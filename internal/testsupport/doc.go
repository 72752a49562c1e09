// Package testsupport holds what the tests of several packages share (the
// root package's, server's, the integration suite's): it is imported by
// tests only.
package testsupport
