package arrowconv

import (
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
)

// ReaderState is the bookkeeping every connector's record reader shares:
// the current batch, the error, the reference count and the builder that
// makes the batches. Embed it and call ReleaseWith from Release.
type ReaderState struct {
	refs  atomic.Int64
	Batch arrow.RecordBatch
	Error error
	Build *Builder
}

// InitState sets the builder and the first reference.
func (s *ReaderState) InitState(b *Builder) {
	s.Build = b
	s.refs.Store(1)
}

func (s *ReaderState) Schema() *arrow.Schema          { return s.Build.Schema() }
func (s *ReaderState) RecordBatch() arrow.RecordBatch { return s.Batch }

// Record is the deprecated name of RecordBatch.
func (s *ReaderState) Record() arrow.RecordBatch { return s.Batch }
func (s *ReaderState) Err() error                { return s.Error }
func (s *ReaderState) Retain()                   { s.refs.Add(1) }

// DropBatch releases the current batch before the reader moves on.
func (s *ReaderState) DropBatch() {
	if s.Batch != nil {
		s.Batch.Release()
		s.Batch = nil
	}
}

// ReleaseWith drops one reference; the last one frees the current batch,
// runs stop (which ends the source-side query if it is unfinished) and frees
// the builder.
func (s *ReaderState) ReleaseWith(stop func()) {
	if s.refs.Add(-1) != 0 {
		return
	}
	s.DropBatch()
	stop()
	s.Build.Release()
}
