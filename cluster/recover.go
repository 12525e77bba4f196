package cluster

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"lienthong/state"
)

// Recover makes the stopped node on cfg.Dir the only member of its
// cluster, keeping its state: the way back after a majority is lost for
// good (their disks gone), or to start a new cluster from a backup of a
// node's directory. Every entry in its log counts as committed, even one
// the old cluster never committed (raft's RecoverCluster), so recover
// the member with the longest log. Open the node afterwards as usual; the
// others join it anew, from empty directories.
func Recover(cfg Config, ms *state.Machines) error {
	if cfg.ID == "" || cfg.Dir == "" || cfg.Addr == "" {
		return errors.New("cluster: recovering needs the node's id, address and data directory")
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft " + cfg.ID, Output: cfg.Log, Level: hclog.Warn})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = logger
	// A running node holds the log's lock: fail rather than wait for it.
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db"), BoltOptions: &bbolt.Options{Timeout: 2 * time.Second}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("cluster: the node on %s is running (its log is locked): stop it before recovering", cfg.Dir)
	}
	if err != nil {
		return fmt.Errorf("cluster: opening the log: %w", err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, logger)
	if err != nil {
		return fmt.Errorf("cluster: opening snapshots: %w", err)
	}
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.Addr))
	if err := rewind(ms); err != nil {
		return err
	}
	conf := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(cfg.ID), Address: raft.ServerAddress(cfg.Addr)}}}
	if err := raft.RecoverCluster(rc, newFSM(ms), store, store, snaps, trans, conf); err != nil {
		return fmt.Errorf("cluster: recovering %s: %w", cfg.Dir, err)
	}
	return nil
}
