device.on("readings", function(r) { server.log("batch of " + r.len()); });
