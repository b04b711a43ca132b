// Polite, with nv and batching: a reading per 15-minute wake, sent in batches of four.
server.onshutdown(function(reason) { server.restart(); });
if (!("nv" in getroottable())) nv <- { readings = [], wakes = 0 };
nv.wakes++;
nv.readings.push(nv.wakes % 7);
if (nv.readings.len() >= 4) {
    agent.send("readings", nv.readings);
    nv.readings = [];
}
imp.onidle(function() { imp.deepsleepfor(900); });
