// The smallest polite sleepy app. It wakes every 15 minutes, counts its wakes in nv (which
// survives deep sleep), reports the count to its agent and goes back to sleep once the imp has
// nothing else to do. Polite deployment in three lines:
//  - the shutdown handler is registered before anything talks to the server;
//  - it restarts at once, so the update installs;
//  - the device sleeps from imp.onidle(), so an update notice that arrived with the connection
//    is handled first.
server.onshutdown(function(reason) { server.restart(); });
if (!("nv" in getroottable())) nv <- { n = 0 };
nv.n++;
agent.send("reading", nv.n);
imp.onidle(function() { imp.deepsleepfor(900); });
