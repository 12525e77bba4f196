package node

import (
	"io"
	"time"
)

// Quiet raft unless a test asks for its log.
func init() { clusterLog = io.Discard }

// SetElectionTimeout shortens raft's timeouts for a test's cluster nodes.
func SetElectionTimeout(d time.Duration) { electionTimeout = d }
