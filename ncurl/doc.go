// Package ncurl is a small HTTP(S) client in the manner of nanonext's ncurl,
// ncurl_aio, ncurl_session and transact: one call, one transaction, the
// status, the response headers asked for, and the body as text or bytes.
//
// # Entry points
//
//   - Do and Get perform one transaction and block until it completes, fails
//     or ctx ends (nanonext's ncurl).
//   - DoAsync starts the same transaction and returns a *Call at once
//     (nanonext's ncurl_aio). Its shape is that of an aio: Done, Value,
//     Stop, Resolved, and Promise, which fulfils only on status 200.
//   - NewSession connects once, and Session.Transact sends requests over
//     that one kept-alive connection (nanonext's ncurl_session and
//     transact).
//
// Requests are configured by options (Method, Header, Body, Timeout,
// ResponseHeaders, Convert, Follow, TLS, Insecure). Results are a
// *Response: the status, the response headers chosen with ResponseHeaders,
// and the body.
//
// # Connections and costs
//
// As in NNG's HTTP client, Do, Get and DoAsync open a connection for each
// transaction (and each redirect hop) and close it when the response has
// been read; there is no hidden connection pool, so nothing outlives the
// call. A Session owns exactly one connection until it is Closed. Requests
// are written by net/http's Request.Write and responses parsed by
// http.ReadResponse over that connection (HTTP/1.1 only, as NNG), so the
// client starts no goroutine of its own: Do and Transact run on the
// caller's goroutine, and DoAsync costs one goroutine for the life of the
// request. No proxy is used and no Accept-Encoding is added, so bodies
// arrive exactly as the server sent them. The whole body is read into
// memory.
//
// # Errors
//
// Every error is a *nanoact.Error carrying an NNG code, matched with
// errors.Is against the root sentinels:
//
//   - a URL that does not parse, or an invalid option value: ErrInvalid (3);
//     a scheme other than http or https, or a host that does not resolve:
//     ErrAddrInvalid (15);
//   - nothing listening: ErrConnRefused (6);
//   - the Timeout option or a ctx deadline passing: ErrTimedOut (5), which
//     also matches context.DeadlineExceeded; a cancelled ctx or Call.Stop:
//     ErrCanceled (20), which also matches context.Canceled;
//   - certificate verification failures: ErrPeerAuth (27); other TLS
//     failures (alerts, a non-TLS peer): ErrCrypto (26);
//   - a closed Session: ErrClosed (7).
//
// An HTTP status is never an error for Do, Get, Transact or Call.Value: a
// 404 is a Response with Status 404. Only Call.Promise turns a status other
// than 200 into a rejection, a *StatusError, as nanonext's promises do.
//
// # Differences from nanonext
//
//   - HTTPS verifies the server's certificate against the system roots when
//     no TLS option is given. nanonext skips verification in that case;
//     here that takes an explicit Insecure option.
//   - The *tls.Config given to TLS is cloned, never mutated (nanonext sets
//     its server name to the URL host).
//   - Follow stops after MaxRedirects hops with an ErrProtocol error
//     (nanonext has no limit); relative Location values are resolved against
//     the request URL (NNG accepts absolute ones only); the Authorization,
//     Cookie and Proxy-Authorization headers are not sent on to another
//     host. Each hop repeats the method, headers and body, as nanonext does
//     (Go's http.Client would turn a redirected POST into a GET).
//   - Timeout covers the whole call, every redirect hop included (nanonext
//     starts it afresh for each hop).
//   - DoAsync accepts Follow too (ncurl_aio has no follow argument).
//   - Where nanonext warns and returns raw bytes because a body has an
//     embedded NUL, here Response.Converted is false and Text is empty; Data
//     always holds the bytes.
//   - NewSession takes a ctx, since it connects before it returns.
package ncurl
