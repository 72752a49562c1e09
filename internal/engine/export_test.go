package engine

// HeartbeatInterval exposes heartbeatInterval to the external tests.
var HeartbeatInterval = heartbeatInterval
