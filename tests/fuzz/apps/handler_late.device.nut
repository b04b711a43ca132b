// Impolite: the report goes out before the shutdown handler is registered, so an update
// pending at that contact restarts the device under the app.
if (!("nv" in getroottable())) nv <- { n = 0 };
nv.n++;
agent.send("reading", nv.n);
server.onshutdown(function(reason) { server.restart(); });
imp.onidle(function() { imp.deepsleepfor(900); });
