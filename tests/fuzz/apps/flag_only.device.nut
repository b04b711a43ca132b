// Impolite: the handler only notes the update, and the app sleeps anyway.
local updatePending = false;
server.onshutdown(function(reason) { updatePending = true; });
if (!("nv" in getroottable())) nv <- { n = 0 };
nv.n++;
agent.send("reading", nv.n);
imp.onidle(function() {
    if (updatePending) server.log("an update is pending; later");
    imp.deepsleepfor(900);
});
