// Fetches its settings from a backend whenever it starts: every agent of a group restarts at the
// same instant when code is deployed, so every one of them asks at once.
http.get("https://api.example.invalid/settings").sendasync(function(r) {});
local readings = 0;
device.on("reading", function(v) { readings++; });
