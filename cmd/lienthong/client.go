package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"lienthong/catalog"
	"lienthong/engine"
	"lienthong/server"
)

// remoteFlags are the flags of commands that can talk to a server.
type remoteFlags struct {
	server, token, purpose, caseID string
	ca, cert, key                  string
}

func (r *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.server, "server", "", "run against a lienthong server at this URL (http://host:8080) instead of --config")
	fs.StringVar(&r.token, "token", "", "bearer token for --server (default: $LIENTHONG_TOKEN)")
	fs.StringVar(&r.purpose, "purpose", "", "the legal purpose of these queries (sent as X-Lienthong-Purpose)")
	fs.StringVar(&r.caseID, "case", "", "the case or dossier these queries serve (sent as X-Lienthong-Case)")
	fs.StringVar(&r.ca, "ca", "", "PEM file of the CA that signed the server's certificate (https)")
	fs.StringVar(&r.cert, "cert", "", "client certificate PEM for mutual TLS")
	fs.StringVar(&r.key, "key", "", "client key PEM for mutual TLS")
}

// backend is the server the flags name; the session's purpose and case
// (withAudit takes --purpose and --case off the command line first) are
// sent unless the flags give their own.
func (r *remoteFlags) backend(s engine.Session) (*remoteBackend, error) {
	token := r.token
	if token == "" {
		token = os.Getenv("LIENTHONG_TOKEN")
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.ca != "" {
		pem, err := os.ReadFile(r.ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", r.ca)
		}
		t.RootCAs = pool
	}
	if r.cert != "" || r.key != "" {
		c, err := tls.LoadX509KeyPair(r.cert, r.key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		t.Certificates = []tls.Certificate{c}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = t
	return &remoteBackend{base: strings.TrimRight(r.server, "/"), token: token, purpose: cmp.Or(r.purpose, s.Purpose), caseID: cmp.Or(r.caseID, s.CaseID), client: &http.Client{Transport: tr}}, nil
}

// remoteBackend runs statements on a lienthong server over its HTTP API,
// reading results as Arrow IPC streams.
type remoteBackend struct {
	base, token, purpose, caseID string
	client                       *http.Client
}

func (r *remoteBackend) do(ctx context.Context, method, path string, body any, accept string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.purpose != "" {
		req.Header.Set(server.HeaderPurpose, r.purpose)
	}
	if r.caseID != "" {
		req.Header.Set(server.HeaderCase, r.caseID)
	}
	req.Header.Set(server.HeaderErrTrailer, "1")
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &engine.CancelledError{Cause: context.Cause(ctx)}
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeServerError(resp)
	}
	return resp, nil
}

func decodeServerError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e server.Error
	if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
		return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return &e
}

func (r *remoteBackend) Query(ctx context.Context, sql string) (array.RecordReader, error) {
	resp, err := r.do(ctx, "POST", "/v1/query", map[string]string{"sql": sql}, server.ContentTypeArrow)
	if err != nil {
		return nil, err
	}
	rdr, err := ipc.NewReader(resp.Body)
	if err != nil {
		resp.Body.Close()
		if ctx.Err() != nil {
			return nil, &engine.CancelledError{Cause: context.Cause(ctx)}
		}
		return nil, fmt.Errorf("reading the server's Arrow stream: %w", err)
	}
	return &remoteReader{Reader: rdr, resp: resp, ctx: ctx}, nil
}

// remoteReader reads an Arrow stream and, at its end, the trailers that say
// whether the server finished it or stopped on an error.
type remoteReader struct {
	*ipc.Reader
	resp *http.Response
	ctx  context.Context // the query's: cancelled by Ctrl-C
	err  error
	done bool
}

func (r *remoteReader) Next() bool {
	if r.done {
		return false
	}
	if r.Reader.Next() {
		return true
	}
	r.done = true
	if r.ctx.Err() != nil {
		// Cancelled here (Ctrl-C): whatever the broken stream says.
		r.err = &engine.CancelledError{Cause: context.Cause(r.ctx)}
		return false
	}
	if err := r.Reader.Err(); err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	_, _ = io.Copy(io.Discard, r.resp.Body) // reach the trailers
	switch r.resp.Trailer.Get(server.HeaderStatus) {
	case "ok":
	case "error":
		var e server.Error
		if json.Unmarshal([]byte(r.resp.Trailer.Get(server.HeaderError)), &e) == nil && e.Code != "" {
			r.err = &e
		} else {
			r.err = errors.New("the server stopped the result on an error")
		}
	default:
		if r.err == nil {
			r.err = errors.New("the server's result stream ended early (connection lost)")
		}
	}
	return false
}

func (r *remoteReader) Err() error { return r.err }

func (r *remoteReader) Release() {
	r.Reader.Release()
	r.resp.Body.Close()
}

func (r *remoteBackend) Explain(ctx context.Context, sql string, analyze bool) (string, error) {
	resp, err := r.do(ctx, "POST", "/v1/explain", map[string]any{"sql": sql, "analyze": analyze}, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Plan string `json:"plan"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Plan, nil
}

func (r *remoteBackend) Refresh(ctx context.Context) (int64, error) {
	resp, err := r.do(ctx, "POST", "/v1/refresh", map[string]any{}, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Version int64 `json:"catalog_version"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out.Version, err
}

func (r *remoteBackend) Catalog(ctx context.Context) (*catalog.Snapshot, error) {
	resp, err := r.do(ctx, "GET", "/v1/catalog", nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var cj server.CatalogJSON
	if err := json.NewDecoder(resp.Body).Decode(&cj); err != nil {
		return nil, err
	}
	snap := &catalog.Snapshot{Version: cj.Version}
	for _, sj := range cj.Sources {
		src := &catalog.Source{Name: sj.Name, Kind: catalog.Kind(sj.Kind), Unavailable: sj.Unavailable}
		for _, tj := range sj.Tables {
			t := &catalog.Table{Source: sj.Name, Name: tj.Name, PINColumn: tj.PINColumn, RowEstimate: -1}
			for _, cj := range tj.Columns {
				t.Columns = append(t.Columns, catalog.Column{Name: cj.Name, Type: namedType{arrow.Null, cj.Type}, SourceType: cj.SourceType, Nullable: cj.Nullable, Sensitive: cj.Sensitive})
			}
			src.Tables = append(src.Tables, t)
		}
		snap.Sources = append(snap.Sources, src)
	}
	return snap, nil
}

// namedType carries a type name the server already rendered, for listing.
type namedType struct {
	arrow.DataType
	name string
}

func (n namedType) String() string { return n.name }
