// Impolite: stays awake and reports every 15 minutes; its handler logs the update and never
// restarts, so the update waits for ever.
server.onshutdown(function(reason) { server.log("update " + reason + " noted"); });
local n = 0;
function report() {
    agent.send("reading", ++n);
    imp.wakeup(900, report);
}
report();
