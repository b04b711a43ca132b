// Keeps the last reading and serves it over HTTP.
local last = null;
device.on("reading", function(r) { last = r; });
http.onrequest(function(req, res) {
    res.send(200, last == null ? "no reading yet" : format("reading %d = %d", last.seq, last.value));
});
