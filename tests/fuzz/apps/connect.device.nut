// Polite, with an explicit connection: RETURN_ON_ERROR, server.connect() at every wake; the
// callback reports and sleeps. An update notice that came with the connection has its handler
// call queued ahead of the callback, so the restart wins.
server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 10);
server.onshutdown(function(reason) { server.restart(); });
if (!("nv" in getroottable())) nv <- { n = 0 };
nv.n++;
server.connect(function(reason) {
    if (reason == SERVER_CONNECTED) agent.send("reading", nv.n);
    imp.deepsleepfor(900);
}, 30);
