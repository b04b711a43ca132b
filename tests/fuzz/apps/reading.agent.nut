device.on("reading", function(n) { server.log("wake " + n); });
