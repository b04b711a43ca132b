// Counts what the device reported.
local count = 0;
device.on("batch", function(readings) { count += readings.len(); });
http.onrequest(function(req, res) { res.send(200, count.tostring()); });
