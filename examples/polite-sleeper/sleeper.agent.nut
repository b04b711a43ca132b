// Logs each wake's report.
device.on("reading", function(n) { server.log("wake " + n); });
