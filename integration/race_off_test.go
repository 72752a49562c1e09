//go:build integration && !race

package integration

const raceState = "off"
