// Keeps the latest reading of the weather station and serves it at /latest.
latest <- null;

device.on("reading", function(r) {
    latest = r;
    server.log(format("reading %d (%s): %.2f C, %.1f %%RH", r.n, r.why, r.temperature, r.humidity));
});

http.onrequest(function(request, response) {
    if (request.path == "/latest" && latest != null) {
        response.header("Content-Type", "application/json");
        response.send(200, http.jsonencode(latest));
    } else {
        response.send(404, "no reading yet");
    }
});
