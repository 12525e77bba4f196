package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Health is /healthz's body.
type Health struct {
	Agency string    `json:"agency"`
	Source string    `json:"source"` // up or down
	Log    LogHealth `json:"log"`
	Time   time.Time `json:"time"`
}

// LogHealth is the request log's head, and whether it can be written.
type LogHealth struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	OK   bool   `json:"ok"`
}

// Health pings the source and reads the log's head.
func (a *Agent) Health(ctx context.Context) Health {
	h := Health{Agency: a.cfg.Agency, Source: "up", Time: a.now().UTC()}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := a.conn.Ping(ctx); err != nil {
		h.Source = "down"
		a.logger.Warn("health: source ping failed", "err", err)
	}
	h.Log.Seq, h.Log.Hash = a.log.Head()
	h.Log.OK = a.log.healthy() == nil
	return h
}

// healthHandler serves /healthz (JSON; 503 when the source is down or the
// log cannot be written) and /readyz (200 when requests can be served).
func (a *Agent) healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := a.Health(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if h.Source != "up" || !h.Log.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		h := a.Health(r.Context())
		if h.Source != "up" || !h.Log.OK {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
