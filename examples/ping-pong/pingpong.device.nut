// Sends a ping to the agent every 10 seconds and logs the round trip.
local sent = {};
local n = 0;

agent.on("pong", function(id) {
    if (id in sent) {
        server.log(format("pong %d after %d ms", id, hardware.millis() - sent[id]));
        delete sent[id];
    }
});

function ping() {
    n++;
    sent[n] <- hardware.millis();
    agent.send("ping", n);
    imp.wakeup(10, ping);
}
ping();
