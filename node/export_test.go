package node

import (
	"io"
	"os"
	"time"
)

// Quiet raft unless a test asks for its log.
func init() {
	if os.Getenv("LT_RAFT_LOG") == "" {
		clusterLog = io.Discard
	}
}

// SetElectionTimeout shortens raft's timeouts for a test's cluster nodes.
func SetElectionTimeout(d time.Duration) { electionTimeout = d }
