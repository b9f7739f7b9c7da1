// Package route keeps a client's table of route outages, so that a tier
// near the edge refuses a request that a service further down could only
// refuse, while the service's other routes keep working.
//
// When a dependency of a service is down (payments behind api), a breaker
// for the whole service would either stay closed, and let every checkout
// request travel to api to be refused there, or open, and refuse browsing
// as well. A [Table] holds finer knowledge, learned from the service's own
// answers: a service that refuses a request because one of its dependencies
// is unavailable names it in its answer (HTTP header Callguard-Unavailable,
// gRPC trailer callguard-unavailable, for example "payments; for=5s"); the
// client records the outage of that dependency, for that long, and links
// the request's route (a key such as "POST /checkout") to it. Until the
// outage expires, a request on a linked route is refused at once with a
// [*RefusedError], which matches [ErrUnavailable] and
// [callguard.ErrRejected]: the callee never sees it, retry does not retry
// it, a breaker does not count it. Once per probe interval one request of
// the route goes through as a probe (half-open); if it gets an answer that
// names no outage, the route is back and its links are dropped.
//
// The adapters do the wiring: httpx.NewRouteTransport and
// grpcx.RouteInterceptor consult and teach a Table at the client,
// httpx.WithDependency and grpcx.WithDependency name a service's
// dependency, so that the service's Handler or interceptor writes the
// header when its handler passes such a dependency's failure on.
//
// # The mapping from requests to dependencies
//
// The table learns it: a route is linked to a dependency when a request on
// that route was refused for it. No configuration lists which route needs
// which service, so the table cannot drift from the code. A route is what
// the route key function of the adapter returns; give it the route pattern
// ("GET /items/{id}"), not the raw path, or every item is a route of its
// own and learns alone (the table stays bounded either way).
//
// When the mapping is wrong (a route linked to a dependency it does not
// need, or an outage that has ended), the next probe of the route gets a
// normal answer and drops the link; at worst the entry expires with the
// outage. The cost of a wrong entry is the refused requests of that route
// for at most one probe interval (the default, 1 s), or the outage's
// duration if no probe can run. A route that needs a dependency but was
// never refused for it is not refused at the edge: its requests reach the
// service, which refuses the first one and teaches the table.
//
// # Trust
//
// A Table learns only from the answers of the services that the client
// calls: a server never reads an outage from an inbound request, and an
// Edge server never names its dependencies in its answers to untrusted
// clients. Install the client side only towards services of your own
// system: an outside service could otherwise make you refuse your own
// requests to it, and only to it, for at most [WithMaxOutage].
//
// # Bounds
//
// The table holds at most [WithMaxEntries] entries (routes and outages
// together) and [WithMaxBytes] bytes of keys and names (each entry also
// counts a fixed overhead). When it is full, expired entries go first, then
// the route that expires soonest. A route key or dependency name longer
// than [MaxKeyLen] bytes is not learned.
package route
