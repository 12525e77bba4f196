package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// No request may take the process down. Every front-end recovers a panic
// in the goroutine that serves the request (gRPC unary and stream
// interceptors, the HTTP handler chain, the goroutine that streams a Flight
// result): the client gets LT-INTERNAL with a request id and nothing of the
// panic, the operator's log gets the panic and its stack under that id, and
// lienthong_panics_total counts it. Decoding the library does not check is
// checked before it runs (guardedFlight).

// recovered turns a recovered panic value into the client's error, after
// logging and counting it.
func (s *Server) recovered(proto, where, id string, v any) *Error {
	if id == "" {
		id = newID()
	}
	s.metrics.add(mPanics, 1, proto)
	// The panic text may quote a value (a map key, a slice index from data):
	// redacted like error messages are. The stack holds code positions only.
	s.log.Error("panic recovered: the request failed, the process goes on",
		"protocol", proto, "method", where, "request_id", id,
		"panic", logRedact(fmt.Sprint(v)), "stack", string(debug.Stack()))
	return &Error{Code: CodeInternal, status: http.StatusInternalServerError,
		Message: fmt.Sprintf("internal error (request id %s): the request failed and was logged for the operator; retry, or report the id", id)}
}

// recoverUnary is the outermost unary interceptor.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, s.recovered("flight", info.FullMethod, "", v)
		}
	}()
	return h(ctx, req)
}

// recoverStream is the outermost stream interceptor.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = s.recovered("flight", info.FullMethod, "", v)
		}
	}()
	return h(srv, ss)
}

// recoverHTTP wraps the HTTP handler chain. Before the response has
// started, the client gets a 500 LT-INTERNAL body; after, the connection is
// cut (as net/http does for http.ErrAbortHandler) so no partial result can
// pass for a whole one.
func (s *Server) recoverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared by identity
				panic(v)
			}
			id := w.Header().Get(HeaderQueryID)
			e := s.recovered("http", r.Method+" "+r.URL.Path, id, v)
			if tw.started {
				panic(http.ErrAbortHandler)
			}
			h := w.Header()
			for _, k := range []string{"Trailer", HeaderQueryID, "Content-Type", "Content-Length"} {
				h.Del(k)
			}
			writeError(w, e)
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response has started.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.started = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// guardedFlight validates what arrow-go's Flight SQL server assumes of a
// request before passing it on: DoPut's first message must carry a command
// descriptor holding a decodable google.protobuf.Any (the library
// dereferences the descriptor without a check).
type guardedFlight struct {
	flight.FlightServer
}

func badRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CodeBadRequest, format, args...)
}

// checkCommand says why cmd is not a Flight SQL command, or nil.
func checkCommand(cmd []byte) *Error {
	if len(cmd) == 0 {
		return badRequest("the flight descriptor carries no command")
	}
	var a anypb.Any
	if err := proto.Unmarshal(cmd, &a); err != nil {
		return badRequest("the flight descriptor's command is not a google.protobuf.Any")
	}
	if !strings.HasPrefix(a.GetTypeUrl(), "type.googleapis.com/arrow.flight.protocol.sql.") {
		return badRequest("the flight descriptor's command is not a Flight SQL command")
	}
	if _, err := a.UnmarshalNew(); err != nil {
		return badRequest("the flight descriptor's command does not decode as a Flight SQL command")
	}
	return nil
}

func (g guardedFlight) DoPut(stream flight.FlightService_DoPutServer) error {
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("the DoPut stream ended before its first message")
		}
		return err
	}
	d := first.GetFlightDescriptor()
	if d == nil {
		return badRequest("the first DoPut message has no flight descriptor")
	}
	if d.GetType() != flight.DescriptorCMD {
		return badRequest("the DoPut flight descriptor must be a command (CMD), not a path")
	}
	if e := checkCommand(d.GetCmd()); e != nil {
		return e
	}
	return g.FlightServer.DoPut(&replayPut{FlightService_DoPutServer: stream, first: first})
}

func (g guardedFlight) GetFlightInfo(ctx context.Context, d *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if d.GetType() != flight.DescriptorCMD {
		return nil, badRequest("the flight descriptor must be a command (CMD), not a path")
	}
	if e := checkCommand(d.GetCmd()); e != nil {
		return nil, e
	}
	return g.FlightServer.GetFlightInfo(ctx, d)
}

func (g guardedFlight) GetSchema(ctx context.Context, d *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	if d.GetType() != flight.DescriptorCMD {
		return nil, badRequest("the flight descriptor must be a command (CMD), not a path")
	}
	if e := checkCommand(d.GetCmd()); e != nil {
		return nil, e
	}
	return g.FlightServer.GetSchema(ctx, d)
}

// replayPut hands the library the first message again.
type replayPut struct {
	flight.FlightService_DoPutServer
	first *flight.FlightData
}

func (r *replayPut) Recv() (*flight.FlightData, error) {
	if f := r.first; f != nil {
		r.first = nil
		return f, nil
	}
	return r.FlightService_DoPutServer.Recv()
}
