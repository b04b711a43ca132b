// Answers every ping, and counts them.
local count = 0;
device.on("ping", function(id) {
    count++;
    device.send("pong", id);
    if (count % 6 == 0) server.log("answered " + count + " pings");
});
device.onconnect(function() { server.log("device is online"); });
