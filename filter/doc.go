// Package filter is the expression language of htapod's --filter and
// --grep options: it decides which events the human report, the JSON
// lines, the HAR file and the pcapng file keep.
//
// The language is mitmproxy's, cut to htapod's events:
//
//	htapod --filter '~d api.lab.test & ~m POST & !~c 2..' -- ./client
//
// keeps the POSTs to api.lab.test that did not get a 2xx answer.
//
// # Terms
//
// A term is an operator, most with an argument. Each reads some of the
// fields of some kinds of events; an event an operator does not read
// never matches it (~m POST is false for a DNS event, so !~m POST is true
// for it).
//
//	~d REGEX    domain: an HTTP exchange's authority without its port, or
//	            its server's IP; a DNS question's name (without the final
//	            dot); a flow's resolved name or destination IP; a TLS
//	            ClientHello's SNI, or its server's IP.
//	~u REGEX    URL of an HTTP exchange ("https://host/path?query").
//	~m REGEX    method of an HTTP exchange.
//	~c CODE     status of an HTTP exchange that has a response (see Codes).
//	~h REGEX    any header or trailer field of an HTTP exchange, request or
//	            response, as a "Name: value" line.
//	~hq REGEX   request header and trailer fields only.
//	~hs REGEX   response header and trailer fields only.
//	~b REGEX    any decoded HTTP body, or a WebSocket message's payload.
//	~bq REGEX   the request body, or a WebSocket message sent by the command.
//	~bs REGEX   the response body, or a WebSocket message sent to it.
//	~t REGEX    content type of either HTTP body (the media type, and the
//	            Content-Type field with its parameters).
//	~tq REGEX   content type of the request.
//	~ts REGEX   content type of the response.
//	~g REGEX    grep: what --grep searches (see Grep). Case-sensitive.
//	~q          an HTTP exchange without a response (yet), as in mitmproxy:
//	            request events, and exchanges that ended unanswered.
//	~s          an HTTP exchange with a response.
//	~http       HTTP exchanges.
//	~websocket  WebSocket messages, and the HTTP exchange that upgraded to
//	            WebSocket.
//	~dns        DNS queries.
//	~tls        what travelled in TLS: TLS handshakes (intercepted or
//	            not), and the HTTP exchanges and WebSocket messages inside
//	            TLS that htapod intercepted.
//	~tcp        what travelled over TCP: TCP flows, DNS over TCP, and HTTP,
//	            WebSocket and TLS events (htapod dissects those on TCP only).
//	~udp        UDP flows and DNS over UDP.
//	~proc REGEX the process behind a flow, a DNS query to htapod's resolver,
//	            an HTTP exchange or a policy decision: its executable's path
//	            or its chain ("sh → curl -s https://www.lab.test/").
//	            Case-sensitive.
//
// Bodies are matched as decoded and as held: at most the dissector's body
// limit; a WebSocket message compressed with permessage-deflate is matched
// inflated (nothing of it when it could not be inflated). No term matches
// Notice or Unparsed events except through !; a sink should show notices
// whatever the filter says.
//
// A WebSocket message is matched by ~d through its connection's host and
// server address; it has no URL, so ~u does not match it. A Selector
// passes a kept message's upgrade exchange on with it (a HAR entry for a
// WebSocket is its upgrade exchange, carrying the kept messages).
//
// # Arguments
//
// A REGEX is Go regular expression syntax (RE2), matched anywhere in the
// field: anchor it with ^ and $ to match a whole field. It is
// case-insensitive, except for ~g. Write it bare, as in ~d api.lab.test,
// or quote it with '…' or "…" when it holds a space or one of ( ) & |,
// or starts with ! or ~. Inside quotes a backslash escapes the quote and
// a backslash; before any other character it stays, so regular-expression
// escapes such as \. and \d read the same quoted or bare.
//
// # Codes
//
// The argument of ~c is a status code, a class or a range:
//
//	~c 404       exactly 404
//	~c 4xx       the class 400–499; 4.. says the same (x and . stand for a digit)
//	~c 400..404  400 to 404, both included
//	~c 400..     400 and above
//	~c ..399     399 and below
//
// A range's bounds are three-digit codes. So !~c 2.. keeps whatever did
// not succeed: answers outside 200–299, and exchanges with no answer.
//
// # Operators
//
// From the tightest to the loosest binding:
//
//	!X       not X
//	X & Y    X and Y; two terms side by side are joined by & too
//	X | Y    X or Y
//
// and parentheses group: ~d api & (~c 4xx | ~c 5xx).
//
// # Examples
//
//	~d api.lab.test                  everything about api.lab.test
//	~d 'lab\.test$' & !~dns          the same for a whole zone, without DNS
//	~c 4xx | ~c 5xx                  exchanges that failed
//	~m POST ~u /v1/orders            POSTs to /v1/orders (& left out)
//	~hq '^authorization: bearer'     requests carrying a bearer token
//	~t json & ~bs '"error"'          JSON answers that mention "error"
//	~websocket & ~b subscribe        WebSocket messages about subscribing
//	~udp & !~dns                     UDP flows other than DNS
//	~tls & !~http                    TLS handshakes only
//	~http & !~tls                    HTTP in clear text
//
// --grep REGEX is the same as --filter '~g REGEX'.
//
// # Phases
//
// An HTTP exchange is reported three times (request, response, done), each
// event holding what is known so far. A filter that reads the status,
// response fields or bodies can only decide on the last one; see
// Filter.NeedsDone.
package filter
