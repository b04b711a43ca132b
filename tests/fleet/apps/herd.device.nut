server.onshutdown(function(reason) { server.restart(); });
agent.send("reading", hardware.millis() % 100);
imp.wakeup(2, function() { imp.deepsleepfor(3600); });
